/**
 * Writes one ledger record to both places: the local copy always (the offline fallback), GitHub when
 * configured. Where the environment's policy requires the ledger, a record GitHub did not take stops
 * the operation before it starts; an outcome GitHub did not take is reported, never swallowed.
 */
import type { FinalState, LedgerPayload } from './entry.js';
import type { Ledger, LedgerHandle } from './github.js';

export interface RecordTarget {
  readonly local: Ledger;
  readonly remote?: Ledger;
  /** A failed remote write is an error (prod), not a warning. */
  readonly required: boolean;
  /** The commit or tag the GitHub deployment is created on. */
  readonly ref?: string;
  readonly production: boolean;
  readonly environmentUrl?: string;
  readonly warn: (line: string) => void;
}

export interface OpenRecord {
  /** The GitHub deployment id, or the local id when GitHub was not used. */
  readonly id: string;
  readonly remoteId?: string;
  /** Sets the outcome; returns the problems (empty = recorded everywhere it was meant to be). */
  finish(state: FinalState, description: string): Promise<string[]>;
}

export class LedgerWriteError extends Error {
  override readonly name = 'LedgerWriteError';
}

export async function openRecord(
  payload: LedgerPayload,
  description: string,
  target: RecordTarget,
): Promise<OpenRecord> {
  const local = await target.local.open(payload, {
    ref: target.ref ?? 'local',
    production: target.production,
    description,
  });
  let remote: LedgerHandle | undefined;
  if (target.remote) {
    try {
      if (!target.ref) throw new Error('no commit or tag to create the GitHub deployment on');
      remote = await target.remote.open(payload, {
        ref: target.ref,
        production: target.production,
        description,
        ...(target.environmentUrl ? { environmentUrl: target.environmentUrl } : {}),
      });
    } catch (err) {
      const msg = `${target.remote.where} did not record the ${payload.operation}: ${(err as Error).message}`;
      if (target.required) {
        await local.finish('error', msg);
        throw new LedgerWriteError(msg);
      }
      target.warn(`warning: ${msg} (kept in ${target.local.where})`);
    }
  } else if (target.required) {
    await local.finish('error', 'no GitHub ledger configured');
    throw new LedgerWriteError(
      `the ${payload.environment} ledger (GitHub deployments) is required and not configured: set GITHUB_TOKEN and --repo/GITHUB_REPOSITORY`,
    );
  }
  return {
    id: remote?.id ?? local.id,
    ...(remote ? { remoteId: remote.id } : {}),
    async finish(state, text) {
      await local.finish(state, text);
      if (!remote) return [];
      try {
        await remote.finish(state, text);
        return [];
      } catch (err) {
        return [
          `${target.remote!.where} did not record the outcome (${state}) of deployment ${remote.id}: ${(err as Error).message}`,
        ];
      }
    },
  };
}

/** A record that is complete when written (gate verdicts, automatic rollbacks). */
export async function writeRecord(
  payload: LedgerPayload,
  state: FinalState,
  description: string,
  target: RecordTarget,
): Promise<{ id: string; problems: string[] }> {
  const rec = await openRecord(payload, description, target);
  return { id: rec.id, problems: await rec.finish(state, description) };
}
