import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ENVIRONMENTS, ENVIRONMENT_NAMES } from '../../../src/definitions/environments.js';
import { generatedFiles, staleFiles } from '../../../src/cli/generate/files.js';
import { alertFiles, alertRules } from '../../../src/operate/triggers/alert-rules.js';
import { promDuration, triggerQueries } from '../../../src/operate/triggers/promql.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

describe('PrometheusRule generation', () => {
  it('the committed k8s/components/alerts equals what the trigger definitions generate', async () => {
    expect(await staleFiles(ROOT)).toEqual([]);
  });

  it('a changed trigger definition makes the committed rules stale', async () => {
    const changed = {
      ...ENVIRONMENTS,
      prod: {
        ...ENVIRONMENTS.prod,
        rollback: { ...ENVIRONMENTS.prod.rollback, errorRate: { above: 0.02, sustainedSeconds: 120 } },
      },
    };
    // The dashboard draws the same limit, so it goes stale with the rules.
    expect(await staleFiles(ROOT, generatedFiles(changed))).toEqual([
      'k8s/components/alerts/prod/prometheusrule.yaml',
      'monitoring/grafana/dashboards/kgraph-mcp-prod.json',
    ]);
  });

  it.each(ENVIRONMENT_NAMES)('%s: limits, windows and namespace come from the environment definition', (name) => {
    const env = ENVIRONMENTS[name];
    const t = env.rollback;
    const doc = parse(alertFiles(ENVIRONMENTS).get(`k8s/components/alerts/${name}/prometheusrule.yaml`)!) as {
      kind: string;
      spec: {
        groups: {
          interval: string;
          rules: { alert: string; expr: string; for?: string; labels: Record<string, string> }[];
        }[];
      };
    };
    expect(doc.kind).toBe('PrometheusRule');
    const rules = Object.fromEntries(doc.spec.groups[0]!.rules.map((r) => [r.labels.trigger, r]));
    expect(doc.spec.groups[0]!.interval).toBe(promDuration(t.pollSeconds));
    expect(rules.errorRate!.for).toBe(promDuration(t.errorRate.sustainedSeconds));
    expect(rules.errorRate!.expr).toContain(`> ${t.errorRate.above} and`);
    expect(rules.p95!.for).toBe(promDuration(t.p95.sustainedSeconds));
    expect(rules.p95!.expr).toContain(`> ${t.p95.aboveMs / 1000} and`);
    expect(rules.health!.expr).toContain(`[${promDuration((t.consecutiveHealthFailures - 0.5) * t.pollSeconds)}]`);
    expect(rules.noData!.labels.rollback).toBe('false');
    for (const r of doc.spec.groups[0]!.rules) expect(r.expr).toContain(`namespace="${env.namespace}"`);
    // The watcher's Prometheus source asks the very same sub-queries.
    const q = triggerQueries(env);
    expect(rules.errorRate!.expr).toContain(q.errors);
    expect(rules.p95!.expr).toContain(q.buckets);
    expect(alertRules(env).map((r) => r.alert)).toEqual([
      'KGraphHealthCheckFailing',
      'KGraphErrorRateHigh',
      'KGraphLatencyP95High',
      'KGraphTrafficNoData',
    ]);
  });

  it('formats Prometheus durations', () => {
    expect(promDuration(300)).toBe('5m');
    expect(promDuration(3600)).toBe('1h');
    expect(promDuration(45)).toBe('45s');
    expect(promDuration(0.25)).toBe('250ms');
    expect(() => promDuration(0)).toThrow(RangeError);
  });
});
