/**
 * The generated alert rules on a real Prometheus (promtool 2.42): `promtool check rules`, then `promtool test
 * rules` with series that cover each trigger, and the very same numbers replayed through the watcher's
 * evaluator. For every scenario the first evaluation time at which promtool fires each alert is found (a
 * probe run that expects nothing and reads what fired), compared with the evaluator's, and then asserted in
 * a proper promtool test (firing at that time, not one evaluation earlier, the other rollback alerts silent).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ENVIRONMENTS, ENVIRONMENT_NAMES } from '../../../src/definitions/environments.js';
import { prometheusMissing, promtool } from '../../../src/platform/services/prometheus.js';
import { alertRules, ruleFileText } from '../../../src/operate/triggers/alert-rules.js';
import { replay, secondsOf, type Replay, type Scenario } from './promtool-series.js';

const missing = await prometheusMissing();
if (missing && process.env.CI) throw new Error(`CI must run the alert rules on promtool: ${missing}`);
if (missing) console.warn(`skipping promtool tests: ${missing}`);

const env = ENVIRONMENTS.prod;
const P = env.rollback.pollSeconds;
const FAULT_AT = 300; // five healthy minutes first, so every window is full before the fault
const ALERT = { health: 'KGraphHealthCheckFailing', errorRate: 'KGraphErrorRateHigh', p95: 'KGraphLatencyP95High' };
const NO_DATA = 'KGraphTrafficNoData';
const ROLLBACK_ALERTS = Object.values(ALERT);

const healthy = { rps: 10, health: true, latency: 0.02 };
const after = (second: number) => second > FAULT_AT;
type Case = Scenario & { expects: keyof typeof ALERT | 'noData' };
const scenarios: Case[] = [
  {
    name: 'three failed health probes',
    expects: 'health',
    polls: 30,
    tick: (s) => ({ ...healthy, health: s < FAULT_AT }),
  },
  {
    name: 'error rate 30% > 5% for 5 min',
    expects: 'errorRate',
    polls: 48,
    tick: (s) => ({ ...healthy, errorRatio: after(s) ? 0.3 : 0 }),
  },
  {
    name: 'p95 2.2 s > 2 s for 10 min',
    expects: 'p95',
    polls: 66,
    tick: (s) => ({ ...healthy, latency: after(s) ? 2.2 : 0.02 }),
  },
  {
    name: 'too few requests (1 rps, half of them failing, 3 s each) = no data',
    expects: 'noData',
    polls: 50,
    tick: (s) => (after(s) ? { rps: 1, errorRatio: 0.5, latency: 3, health: true } : healthy),
  },
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kgraph-promtool-'));
  await writeFile(join(dir, 'rules.yml'), ruleFileText(env), 'utf8');
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface AlertTest {
  eval_time: string;
  alertname: string;
  exp_alerts: { exp_labels: Record<string, string>; exp_annotations: Record<string, string> }[];
}

function testFile(r: Replay, polls: number, alertTests: AlertTest[]): string {
  return stringify({
    rule_files: ['rules.yml'],
    evaluation_interval: `${P}s`,
    tests: [{ interval: `${P}s`, input_series: r.series, alert_rule_test: alertTests }],
  });
}

/** What the alert carries when it fires: the rule's labels, its name, and the labels its expression keeps. */
function expectedAlert(name: string) {
  const rule = alertRules(env).find((r) => r.alert === name)!;
  const kept: Record<string, string> =
    name === ALERT.health ? { namespace: env.namespace, job: 'kgraph-mcp-healthz' } : {};
  return { exp_labels: { ...rule.labels, ...kept, alertname: name }, exp_annotations: { ...rule.annotations } };
}

async function runPromtool(file: string, text: string) {
  await writeFile(join(dir, file), text, 'utf8');
  return promtool(['test', 'rules', file], dir);
}

/** First eval time (seconds) at which promtool fires each alert: expect nothing everywhere, read what fired. */
async function promtoolFirings(s: Case, r: Replay): Promise<Record<string, number | undefined>> {
  const names = [...ROLLBACK_ALERTS, NO_DATA];
  const tests: AlertTest[] = [];
  for (let i = 0; i <= s.polls; i++)
    for (const alertname of names) tests.push({ eval_time: `${i * P}s`, alertname, exp_alerts: [] });
  const out = await runPromtool(`probe-${s.expects}.yml`, testFile(r, s.polls, tests));
  const text = out.stdout + out.stderr;
  // A broken test file fails without any "alertname: …, time: …" line: that must not read as "nothing fired".
  if (out.exitCode !== 0 && !/alertname: /.test(text)) throw new Error(`promtool failed: ${text}`);
  const first: Record<string, number | undefined> = {};
  for (const m of text.matchAll(/alertname: (\w+), time: (\S+),/g)) {
    const at = secondsOf(m[2]!);
    first[m[1]!] = Math.min(first[m[1]!] ?? Infinity, at);
  }
  return first;
}

const fmt = (s: number | undefined) => (s === undefined ? 'never' : `${s}s (${FAULT_AT}s + ${s - FAULT_AT}s)`);

describe.skipIf(missing !== undefined)('alert rules on promtool (Prometheus 2.42)', { timeout: 60_000 }, () => {
  it.each(ENVIRONMENT_NAMES)('promtool check rules accepts the %s rules', async (name) => {
    await writeFile(join(dir, `check-${name}.yml`), ruleFileText(ENVIRONMENTS[name]), 'utf8');
    const out = await promtool(['check', 'rules', `check-${name}.yml`], dir);
    expect(out.stdout + out.stderr).toContain('SUCCESS: 4 rules found');
    expect(out.exitCode).toBe(0);
  });

  it('promtool check rules refuses a broken rule (the check can fail)', async () => {
    await writeFile(join(dir, 'broken.yml'), ruleFileText(env).replace(/> 0\.05 and/, '> and'), 'utf8');
    const out = await promtool(['check', 'rules', 'broken.yml'], dir);
    expect(out.exitCode).not.toBe(0);
  });

  it.each(scenarios)('$name: promtool and the watcher fire at the same evaluation time', async (s) => {
    const r = replay(env, s);
    const fired = await promtoolFirings(s, r);
    const evaluator =
      s.expects === 'noData' ? r.evaluatorNoDataHeld : r.evaluatorFired[s.expects as keyof typeof ALERT];
    const promtoolAt = fired[s.expects === 'noData' ? NO_DATA : ALERT[s.expects]];
    const line = `${s.name}: promtool fires at ${fmt(promtoolAt)}, the watcher's evaluator at ${fmt(evaluator)}`;
    console.info(line);
    expect(evaluator, line).toBeDefined();
    expect(promtoolAt, line).toBe(evaluator);
    // Nothing else fires: not the other rollback alerts in promtool, not any other trigger in the watcher.
    const others = ROLLBACK_ALERTS.filter((a) => s.expects === 'noData' || a !== ALERT[s.expects]);
    expect(Object.fromEntries(others.map((a) => [a, fired[a]]))).toEqual(Object.fromEntries(others.map((a) => [a])));
    const watcherTriggers = Object.keys(r.evaluatorFired);
    expect(watcherTriggers).toEqual(s.expects === 'noData' ? [] : [s.expects]);

    // The same as a promtool unit test: firing at that time, not one evaluation before, the others silent.
    const name = s.expects === 'noData' ? NO_DATA : ALERT[s.expects];
    const end = `${s.polls * P}s`;
    const tests: AlertTest[] = [
      { eval_time: `${evaluator! - P}s`, alertname: name, exp_alerts: [] },
      { eval_time: `${evaluator!}s`, alertname: name, exp_alerts: [expectedAlert(name)] },
      ...others.map((alertname) => ({ eval_time: end, alertname, exp_alerts: [] })),
    ];
    const out = await runPromtool(`test-${s.expects}.yml`, testFile(r, s.polls, tests));
    expect(out.exitCode, out.stdout + out.stderr).toBe(0);
    expect(out.stdout).toContain('SUCCESS');
  });
});
