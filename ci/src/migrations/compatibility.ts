/**
 * Whether the release running in an environment passed the compatibility check (N-1) against a migration.
 * The record is the rollout's (issue 23 item 2); until the ledger carries it, the answer is "unknown", and
 * the expand/contract rule refuses every contract step (fail closed).
 */
import type { EnvironmentDefinition } from '../environments.js';
import type { Ledger } from '../ledger/github.js';
import type { CompatibilityFacts } from './rules.js';

export async function compatibilityFacts(
  env: EnvironmentDefinition,
  _migrations: readonly string[],
  _ledger: Ledger | undefined,
): Promise<CompatibilityFacts> {
  return { known: false, reason: `the ledger holds no compatibility record (N-1 check) for ${env.name}` };
}
