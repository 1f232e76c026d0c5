/** A run report as JUnit XML (one test case per step), for CI viewers that read JUnit. */
import type { RunReport } from './types.js';

const escape = (s: string) =>
  s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

export function runJunitXml(report: RunReport): string {
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const failures = report.steps.filter((s) => ['failed', 'timedOut', 'cancelled'].includes(s.status)).length;
  const skipped = report.steps.filter((s) => s.status === 'skipped').length;
  const cases = report.steps.map((s) => {
    const open = `    <testcase classname="kgraph-ci.run" name="${escape(s.name)}" time="${seconds(s.durationMs)}"`;
    if (s.status === 'passed' || s.status === 'cached')
      return s.status === 'cached'
        ? `${open}>\n      <system-out>cached: replayed a pass</system-out>\n    </testcase>`
        : `${open}/>`;
    if (s.status === 'skipped')
      return `${open}>\n      <skipped message="${escape(s.reason ?? 'skipped')}"/>\n    </testcase>`;
    const message = escape(`${s.status}${s.reason ? `: ${s.reason}` : ''}`);
    return `${open}>\n      <failure message="${message}" type="${s.status}"/>\n    </testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="kgraph-ci run" tests="${report.steps.length}" failures="${failures}" time="${seconds(report.durationMs)}">`,
    `  <testsuite name="kgraph-ci run ${escape(report.runId)}" tests="${report.steps.length}" failures="${failures}" skipped="${skipped}" timestamp="${report.startedAt}" time="${seconds(report.durationMs)}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
