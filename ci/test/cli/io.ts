/** A CliIo whose streams are captured, for driving runCli in tests. */
import { Writable } from 'node:stream';
import type { CliIo } from '../../src/cli/io.js';

export function captureIo(env: NodeJS.ProcessEnv = {}, cwd = process.cwd()): CliIo & { out: () => string; err: () => string } {
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
