/** What a command touches outside itself, so tests can give it their own streams and environment. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export const processIo = (): CliIo => ({
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});

export const writeLine = (stream: NodeJS.WritableStream, text = '') => stream.write(`${text}\n`);
