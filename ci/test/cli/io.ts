/** A CliIo whose streams are captured, for driving runCli in tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';

export function captureIo(
  env: NodeJS.ProcessEnv = {},
  cwd = process.cwd(),
): CliIo & { out: () => string; err: () => string } {
  const sink = () => {
    const chunks: string[] = [];
    const stream = new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c.toString());
        cb();
      },
    });
    return { stream, text: () => chunks.join('') };
  };
  const o = sink();
  const e = sink();
  return { stdout: o.stream, stderr: e.stream, env, cwd, out: o.text, err: e.text };
}

/** A fresh temporary directory per call, all removed after each test of the calling file. */
export function useTempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
}
