/**
 * Exit codes of kgraph-ci: 0 ok, 1 a step, gate or check failed or an internal error (its message, no stack),
 * 2 bad usage or configuration. Only a UsageError is bad usage: code that checks what a user gave throws one;
 * a RangeError or any other error is an internal invariant that broke, which the user cannot fix by retyping.
 */
export const EXIT_OK = 0;
const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Bad arguments or configuration: exit 2 with this message, never a stack trace. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly exitCode = EXIT_USAGE;
}

/** A step, gate or check ran and said no: exit 1 with this message. */
export class FailedError extends Error {
  override readonly name = 'FailedError';
  readonly exitCode = EXIT_FAILED;
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return EXIT_USAGE;
  return EXIT_FAILED;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
