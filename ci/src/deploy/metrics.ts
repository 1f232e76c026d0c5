/**
 * Delivery metrics against the plan's targets: deploys finish in under 5 minutes, 99.9% succeed, under
 * 1% are rolled back. Pure over records; `report` renders the markdown.
 */
import { table, xyChart } from '../report/markdown.js';
import type { DeployRecord } from './records.js';

export const TARGETS = { maxDurationMs: 5 * 60_000, minSuccessRate: 0.999, maxRollbackRate: 0.01 } as const;

export interface EnvironmentMetrics {
  readonly environment: string;
  readonly deploys: number;
  readonly successes: number;
  /** Deploys rolled back automatically plus manual rollbacks. */
  readonly rollbacks: number;
  readonly successRate: number;
  readonly rollbackRate: number;
  readonly medianDurationMs: number;
  readonly p95DurationMs: number;
  readonly maxDurationMs: number;
}

export interface MetricsReport {
  readonly perEnvironment: readonly EnvironmentMetrics[];
  readonly overall: EnvironmentMetrics;
  readonly meetsTargets: { readonly duration: boolean; readonly successRate: boolean; readonly rollbackRate: boolean };
}

/** Nearest-rank percentile; 0 for no data. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function metricsOf(environment: string, records: readonly DeployRecord[]): EnvironmentMetrics {
  const deploys = records.filter((r) => r.operation === 'deploy');
  const successes = deploys.filter((r) => r.result === 'success').length;
  const rollbacks = deploys.filter((r) => r.rolledBack).length + records.filter((r) => r.operation === 'rollback').length;
  // Duration counts successful deploys: a failed one's time says nothing about how long shipping takes.
  const durations = deploys.filter((r) => r.result === 'success').map((r) => r.durationMs);
  return {
    environment,
    deploys: deploys.length,
    successes,
    rollbacks,
    successRate: deploys.length ? successes / deploys.length : 0,
    rollbackRate: deploys.length ? rollbacks / deploys.length : 0,
    medianDurationMs: percentile(durations, 50),
    p95DurationMs: percentile(durations, 95),
    maxDurationMs: durations.length ? Math.max(...durations) : 0,
  };
}

export function computeMetrics(records: readonly DeployRecord[]): MetricsReport {
  const envs = [...new Set(records.map((r) => r.environment))].sort();
  const overall = metricsOf('all', records);
  return {
    perEnvironment: envs.map((e) => metricsOf(e, records.filter((r) => r.environment === e))),
    overall,
    // No deploys means no evidence: targets are not met (fail closed).
    meetsTargets: {
      duration: overall.successes > 0 && overall.p95DurationMs < TARGETS.maxDurationMs,
      successRate: overall.deploys > 0 && overall.successRate >= TARGETS.minSuccessRate,
      rollbackRate: overall.deploys > 0 && overall.rollbackRate < TARGETS.maxRollbackRate,
    },
  };
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const mins = (ms: number) => `${(ms / 60_000).toFixed(2)} min`;
const mark = (ok: boolean) => (ok ? '✅' : '❌');

export function metricsMarkdown(report: MetricsReport, records: readonly DeployRecord[]): string {
  const { overall, meetsTargets } = report;
  const parts = [
    '## Delivery metrics',
    table(
      ['metric', 'value', 'target', 'met'],
      [
        ['deploy duration (p95 of successful)', mins(overall.p95DurationMs), '< 5 min', mark(meetsTargets.duration)],
        ['success rate', pct(overall.successRate), '≥ 99.9%', mark(meetsTargets.successRate)],
        ['rollback rate', pct(overall.rollbackRate), '< 1%', mark(meetsTargets.rollbackRate)],
      ],
    ),
    table(
      ['environment', 'deploys', 'successes', 'rollbacks', 'success rate', 'rollback rate', 'median', 'p95'],
      report.perEnvironment.map((m) => [m.environment, m.deploys, m.successes, m.rollbacks, pct(m.successRate), pct(m.rollbackRate), mins(m.medianDurationMs), mins(m.p95DurationMs)]),
    ),
  ];
  const recent = records.filter((r) => r.operation === 'deploy').slice(-20);
  if (recent.length) {
    parts.push(
      xyChart({
        title: 'Deploy duration (last 20 deploys, minutes; line = 5 min target)',
        xLabels: recent.map((r, i) => `${i + 1} ${r.environment} ${r.version}`),
        yLabel: 'minutes',
        series: [
          { kind: 'bar', values: recent.map((r) => r.durationMs / 60_000) },
          { kind: 'line', values: recent.map(() => TARGETS.maxDurationMs / 60_000) },
        ],
      }),
    );
  }
  return parts.join('\n\n');
}
