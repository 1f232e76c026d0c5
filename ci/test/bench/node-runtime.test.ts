/** bench/node-runtime: which Node a bench's servers run on. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageNodeVersion, resolveNode } from '../../../bench/node-runtime.js';
import { REPO_ROOT } from '../../src/platform/repo-root.js';

describe('imageNodeVersion', () => {
  it("reads the final stage's node version through stage aliases", () => {
    const text = [
      'FROM node:20.1.0-bookworm-slim AS deps',
      'FROM node:22.21.1-bookworm-slim AS base',
      'FROM base AS runtime',
      'CMD ["node", "main.js"]',
    ].join('\n');
    expect(imageNodeVersion(text)).toBe('22.21.1');
    expect(imageNodeVersion('FROM docker.io/library/node:24.11.1\n')).toBe('24.11.1');
  });

  it('has no answer for a final stage that is not a pinned node image', () => {
    expect(imageNodeVersion('FROM node:22-bookworm-slim\n')).toBeUndefined();
    expect(imageNodeVersion('FROM node:22.21.1 AS b\nFROM debian:bookworm\n')).toBeUndefined();
    expect(imageNodeVersion('FROM notnode:22.21.1\n')).toBeUndefined();
    expect(imageNodeVersion('')).toBeUndefined();
  });

  it('finds the version app/Dockerfile ships', () => {
    expect(imageNodeVersion(readFileSync(join(REPO_ROOT, 'app', 'Dockerfile'), 'utf8'))).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('resolveNode', () => {
  it("host is this process's node; a path is taken when it runs as node", () => {
    expect(resolveNode('host')).toEqual({ path: process.execPath, version: process.version });
    expect(resolveNode(process.execPath)).toEqual({ path: process.execPath, version: process.version });
  });

  it('refuses a path that is not a node binary, naming it', () => {
    expect(() => resolveNode('/nonexistent/node')).toThrow('--node /nonexistent/node: not a node binary that runs');
  });
});
