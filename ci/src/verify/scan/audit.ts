/**
 * Dependency audit: `npm audit --json` (the registry's bulk advisory endpoint) read by a pure function.
 * When the advisory service cannot be reached the result is a failure, unless offline is allowed.
 */
import { runProcess } from '../../platform/process/run.js';
import { failed, passed } from '../../definitions/verdict.js';
import { skipped, type CheckAnswer } from './check.js';

export const SEVERITIES = ['info', 'low', 'moderate', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface AuditRun {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The audit's answer (skipped only when offline is allowed), with what it counted. */
export type AuditResult = CheckAnswer & {
  readonly counts?: Readonly<Record<Severity, number>>;
  /** Packages at or above the failing level. */
  readonly offenders?: readonly string[];
};

export function interpretAudit(run: AuditRun, opts: { allowOffline: boolean; level: Severity }): AuditResult {
  let json: {
    metadata?: { vulnerabilities?: Partial<Record<Severity, number>> };
    vulnerabilities?: Record<string, { severity?: Severity }>;
    message?: string;
    error?: { summary?: string };
  };
  try {
    json = JSON.parse(run.stdout) as typeof json;
  } catch {
    json = {};
  }
  const vulns = json.metadata?.vulnerabilities;
  if (!vulns) {
    const why = (
      json.message ??
      json.error?.summary ??
      run.stderr.split('\n').find((l) => l.trim()) ??
      `npm audit exited ${run.exitCode}`
    ).trim();
    if (opts.allowOffline)
      return skipped(
        `no audit result from the advisory service (${why}); skipped because offline was allowed (--allow-offline or KGRAPH_SCAN_ALLOW_OFFLINE=1)`,
      );
    return failed(
      `no audit result from the advisory service (${why}); failing closed: to skip the audit, pass --allow-offline to kgraph-ci scan or set KGRAPH_SCAN_ALLOW_OFFLINE=1 (kgraph-ci run, CI)`,
    );
  }
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, vulns[s] ?? 0])) as Record<Severity, number>;
  const failing = SEVERITIES.slice(SEVERITIES.indexOf(opts.level));
  const offenders = Object.entries(json.vulnerabilities ?? {})
    .filter(([, v]) => v.severity !== undefined && failing.includes(v.severity))
    .map(([name, v]) => `${name} (${v.severity})`);
  const summary = SEVERITIES.map((s) => `${counts[s]} ${s}`).join(', ');
  const bad = failing.reduce((n, s) => n + counts[s], 0);
  return bad > 0
    ? { ...failed(`${bad} at or above ${opts.level}: ${offenders.join(', ') || summary}`), counts, offenders }
    : { ...passed(`${summary} (fails at ${opts.level} and above)`), counts, offenders: [] };
}

/** The real edge: npm audit in the repository (no retries, so an unreachable registry fails fast). */
export async function npmAudit(
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 120_000,
): Promise<AuditRun> {
  const { exitCode, stdout, stderr } = await runProcess({
    argv: ['npm', 'audit', '--json', '--fetch-retries=0'],
    cwd,
    env,
    timeoutMs,
  });
  return { exitCode, stdout, stderr };
}
