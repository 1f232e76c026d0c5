/**
 * Markdown for job summaries: tables and mermaid charts (GitHub renders ```mermaid blocks, including
 * xychart-beta, in $GITHUB_STEP_SUMMARY). Pure functions; writing is in summary.ts.
 */

/** Escapes a table cell: pipes and newlines would break the row. */
function cell(value: unknown): string {
  return String(value ?? '')
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/\r?\n/g, ' ');
}

export function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const head = `| ${headers.map(cell).join(' | ')} |`;
  const sep = `| ${headers.map(() => '---').join(' | ')} |`;
  const body = rows.map((r) => `| ${headers.map((_, i) => cell(r[i])).join(' | ')} |`);
  return [head, sep, ...body].join('\n');
}

interface XySeries {
  readonly kind: 'bar' | 'line';
  readonly values: readonly number[];
}

export interface XyChart {
  readonly title: string;
  readonly xLabels: readonly string[];
  readonly yLabel: string;
  readonly series: readonly XySeries[];
  /** Upper bound of the y axis; defaults to the largest value plus 10%. */
  readonly yMax?: number;
}

const quote = (s: string) => `"${s.replace(/"/g, "'")}"`;
const num = (n: number) => (Number.isFinite(n) ? String(Math.round(n * 1000) / 1000) : '0');

/** A mermaid xychart-beta block. Labels are quoted so spaces and symbols are safe. */
export function xyChart(chart: XyChart): string {
  if (chart.xLabels.length === 0) throw new Error('xyChart needs at least one x label');
  for (const s of chart.series) {
    if (s.values.length !== chart.xLabels.length) {
      throw new Error(`xyChart series has ${s.values.length} values for ${chart.xLabels.length} labels`);
    }
  }
  const max = chart.yMax ?? Math.max(1, ...chart.series.flatMap((s) => s.values.filter(Number.isFinite))) * 1.1;
  const lines = [
    '```mermaid',
    'xychart-beta',
    `  title ${quote(chart.title)}`,
    `  x-axis [${chart.xLabels.map(quote).join(', ')}]`,
    `  y-axis ${quote(chart.yLabel)} 0 --> ${num(max)}`,
    ...chart.series.map((s) => `  ${s.kind} [${s.values.map(num).join(', ')}]`),
    '```',
  ];
  return lines.join('\n');
}
