#!/usr/bin/env node
// Runs the TypeScript CLI through tsx so the same sources serve the host, CI and Dagger containers.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
