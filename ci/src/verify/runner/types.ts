/** The runner's result types, a leaf shared by the runner, its renderings and the CLI. */
import type { StepOutcome } from '../../platform/outcome.js';

export type StepStatus = StepOutcome;

export interface StepResult {
  readonly name: string;
  readonly status: StepStatus;
  readonly durationMs: number;
  readonly exitCode?: number | null;
  /** Why it did not pass, in one line. */
  readonly reason?: string;
  /** A cached step: how long it took when it ran, which this run did not spend. */
  readonly savedMs?: number;
  /** The step's cache key, when it has one. */
  readonly cacheKey?: string;
  /** What the cache did beyond a plain hit or store (a damaged entry, inputs edited during the run). */
  readonly cacheNote?: string;
  /** What the step reported about its result through $KGRAPH_STEP_FACTS (e.g. the image it built). */
  readonly facts?: Readonly<Record<string, string>>;
}

export type CacheSummary =
  | { readonly enabled: true; readonly dir: string; readonly hits: number; readonly savedMs: number }
  | { readonly enabled: false; readonly reason: string };

export interface RunReport {
  readonly version: 1;
  readonly runId: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly ok: boolean;
  readonly interrupted?: string;
  readonly concurrency: number;
  readonly servicesMode: 'ephemeral' | 'external';
  readonly params: Readonly<Record<string, string>>;
  readonly commit?: string;
  readonly steps: readonly StepResult[];
  /** Connection lines of services kept with --keep. */
  readonly keptServices?: readonly string[];
  readonly cache?: CacheSummary;
}
