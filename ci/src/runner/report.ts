/** Renderings of a run report: the terminal table, the JSON file and the GitHub job summary. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { table, xyChart } from '../report/markdown.js';
import type { RunReport } from './run.js';

export const DEFAULT_RUN_REPORT = '.reports/run.json';

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

/** A plain aligned table: step, result, duration (and the reason when it did not pass). */
export function formatRunTable(report: RunReport): string {
  const rows = report.steps.map((s) => [s.name, s.status, formatDuration(s.durationMs), s.reason ?? '']);
  rows.push(['total', report.ok ? 'passed' : report.interrupted ? 'interrupted' : 'failed', formatDuration(report.durationMs), '']);
  const head = ['step', 'result', 'duration', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), widths.map((w) => '─'.repeat(w)).join('  ').trimEnd(), ...rows.slice(0, -1).map(line), line(rows.at(-1)!)].join('\n');
}

export function runSummaryMarkdown(report: RunReport): string {
  const icon = (s: string) => (s === 'passed' ? '✅' : s === 'skipped' ? '⏭️' : '❌');
  const parts = [
    `### kgraph-ci run: ${report.ok ? 'passed' : 'failed'}${report.interrupted ? ` (interrupted: ${report.interrupted})` : ''}`,
    '',
    table(
      ['step', 'result', 'duration', 'detail'],
      report.steps.map((s) => [s.name, `${icon(s.status)} ${s.status}`, formatDuration(s.durationMs), s.reason ?? '']),
    ),
    '',
    `Total ${formatDuration(report.durationMs)}, concurrency ${report.concurrency}, services ${report.servicesMode}, run ${report.runId}.`,
  ];
  const timed = report.steps.filter((s) => s.durationMs > 0);
  if (timed.length > 0) {
    parts.push('', xyChart({ title: 'Step duration', xLabels: timed.map((s) => s.name), yLabel: 'seconds', series: [{ kind: 'bar', values: timed.map((s) => s.durationMs / 1000) }] }));
  }
  return parts.join('\n');
}

export async function writeJsonReport(path: string, report: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`, 'utf8');
}
