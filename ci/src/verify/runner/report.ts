/** Renderings of a run report: the terminal table, the JSON file and the GitHub job summary. */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { table, xyChart } from '../../platform/report/markdown.js';
import type { RunReport, StepResult } from './types.js';

export const DEFAULT_RUN_REPORT = '.reports/run.json';

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

/** The detail column: why it did not pass, what a cached step saved, what the cache could not do. */
function detailOf(s: StepResult): string {
  const parts = [s.reason, s.savedMs !== undefined ? `saved ${formatDuration(s.savedMs)}` : undefined, s.cacheNote];
  return parts.filter((p) => p !== undefined && p !== '').join('; ');
}

const savedTotal = (report: RunReport): string =>
  report.cache?.enabled && report.cache.hits > 0
    ? `${report.cache.hits} cached, saved ${formatDuration(report.cache.savedMs)}`
    : '';

/** The facts a step wrote (a flat JSON object; values become strings), or undefined when none or unreadable. */
export function readStepFacts(path: string): Record<string, string> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const entries = Object.entries(parsed).filter(([, v]) => ['string', 'number', 'boolean'].includes(typeof v));
  return entries.length > 0 ? Object.fromEntries(entries.map(([k, v]) => [k, String(v)])) : undefined;
}

/** `step: key value · key value` lines for the steps that reported facts. */
export function formatFacts(report: RunReport): string[] {
  return report.steps
    .filter((s) => s.facts)
    .map(
      (s) =>
        `${s.name}: ${Object.entries(s.facts!)
          .map(([k, v]) => `${k} ${v}`)
          .join(' · ')}`,
    );
}

/** A plain aligned table: step, result, duration (and the reason when it did not pass). */
export function formatRunTable(report: RunReport): string {
  const rows = report.steps.map((s) => [s.name, s.status, formatDuration(s.durationMs), detailOf(s)]);
  rows.push([
    'total',
    report.ok ? 'passed' : report.interrupted ? 'interrupted' : 'failed',
    formatDuration(report.durationMs),
    savedTotal(report),
  ]);
  const head = ['step', 'result', 'duration', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [
    line(head),
    widths
      .map((w) => '─'.repeat(w))
      .join('  ')
      .trimEnd(),
    ...rows.slice(0, -1).map(line),
    line(rows.at(-1)!),
    ...formatFacts(report),
  ].join('\n');
}

export function runSummaryMarkdown(report: RunReport): string {
  const icon = (s: string) => (s === 'passed' ? '✅' : s === 'cached' ? '♻️' : s === 'skipped' ? '⏭️' : '❌');
  const parts = [
    `### kgraph-ci run: ${report.ok ? 'passed' : 'failed'}${report.interrupted ? ` (interrupted: ${report.interrupted})` : ''}`,
    '',
    table(
      ['step', 'result', 'duration', 'detail'],
      report.steps.map((s) => [s.name, `${icon(s.status)} ${s.status}`, formatDuration(s.durationMs), detailOf(s)]),
    ),
    '',
    `Total ${formatDuration(report.durationMs)}, concurrency ${report.concurrency}, services ${report.servicesMode}, run ${report.runId}.${cacheLine(report)}`,
    ...formatFacts(report).map((f) => `\n${f}`),
  ];
  const timed = report.steps.filter((s) => s.durationMs > 0 || s.savedMs !== undefined);
  if (timed.length > 0) {
    const bars = { kind: 'bar' as const, values: timed.map((s) => s.durationMs / 1000) };
    // With cache hits, a line shows what each step took when it last ran, next to what this run spent.
    const anyCached = timed.some((s) => s.savedMs !== undefined);
    const line = { kind: 'line' as const, values: timed.map((s) => (s.savedMs ?? s.durationMs) / 1000) };
    parts.push(
      '',
      xyChart({
        title: anyCached ? 'Step duration: this run (bars), without the cache (line)' : 'Step duration',
        xLabels: timed.map((s) => s.name),
        yLabel: 'seconds',
        series: anyCached ? [bars, line] : [bars],
      }),
    );
  }
  return parts.join('\n');
}

function cacheLine(report: RunReport): string {
  if (!report.cache) return '';
  if (!report.cache.enabled) return ` Cache off: ${report.cache.reason}.`;
  return report.cache.hits > 0
    ? ` Cache: ${report.cache.hits} step(s) replayed, ${formatDuration(report.cache.savedMs)} saved.`
    : ' Cache: no hits.';
}

export async function writeJsonReport(path: string, report: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`, 'utf8');
}
