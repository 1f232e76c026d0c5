/** Exit codes of kgraph-ci: 0 ok, 1 a step or gate failed, 2 bad usage or configuration. */
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
  if (err instanceof UsageError || err instanceof RangeError) return EXIT_USAGE;
  return EXIT_FAILED;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
