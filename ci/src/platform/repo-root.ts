/** The repository root (where app/, ci/ and k8s/ live), wherever a command was started from. */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The kgraph-ci executable, for commands that start another kgraph-ci (watch's default rollback). */
export const CLI_BIN = resolve(REPO_ROOT, 'ci/bin/kgraph-ci.js');
