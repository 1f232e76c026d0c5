/**
 * What the engine's TypeScript runtime (sdk/typescript/runtime, Dagger 0.21) does with dagger/package.json:
 * a `packageManager` field wins over the lockfile and makes it `npm install -g` that npm from the
 * registry on every fresh engine unless the runtime image already ships it; without the field a
 * package-lock.json selects the npm the default image ships. With typescript 5.9.3 as the only
 * dependency the runtime mounts its bundled TypeScript and runs no install at all.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const dir = new URL('../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as Record<string, unknown>;

describe('dagger/package.json as the engine runtime reads it', () => {
  it('pins no package manager, so a fresh engine installs none', () => {
    expect(pkg).not.toHaveProperty('packageManager');
    expect(existsSync(new URL('package-lock.json', dir))).toBe(true);
  });

  it('depends on the bundled TypeScript only, so the runtime skips npm install', () => {
    expect(pkg.dependencies).toEqual({ typescript: '5.9.3' });
    expect(pkg).not.toHaveProperty('devDependencies');
  });

  it('leaves the runtime and base image to the engine (no dagger.runtime or dagger.baseImage override)', () => {
    expect(pkg).not.toHaveProperty('dagger');
  });
});
