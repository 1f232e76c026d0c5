/** Small helpers shared by the service's command-line entry points (migrate, seed). */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../errors.js';

export const EXIT_USAGE = 2;

/** True when this module is the process entry point (works under node and tsx). */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

/**
 * Runs a command: a returned `{usage}` exits 2 with that message, a thrown error exits 1 with its
 * message only (no stack trace; secrets in connection strings are not part of pg's messages).
 */
export async function runCli(name: string, fn: () => Promise<{ usage: string } | undefined>): Promise<void> {
  try {
    const res = await fn();
    if (res) {
      console.error(`${name}: ${res.usage}`);
      process.exitCode = EXIT_USAGE;
    }
  } catch (err) {
    console.error(`${name}: failed: ${errorMessage(err)}`);
    process.exitCode = 1;
  }
}
