import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifests } from '../../../src/platform/kube/validate.js';
import { DEPLOYMENT_NAME } from '../../../src/platform/kube/overlays.js';
import { REPO_ROOT } from '../../../src/platform/repo-root.js';
import { rolloutSteps, strategy, strategyOf } from '../../../src/deliver/rollout/strategy.js';

/** Replays the steps and checks the bounds Kubernetes keeps at every point. */
function replay(s: ReturnType<typeof strategy>) {
  let old = s.replicas;
  let fresh = 0;
  for (const step of rolloutSteps(s)) {
    if (step.kind === 'start') fresh += step.count;
    else old -= 1;
    expect(old + fresh).toBeLessThanOrEqual(s.replicas + s.maxSurge);
    expect(old + fresh).toBeGreaterThanOrEqual(s.replicas - s.maxUnavailable);
  }
  return { old, fresh };
}

describe('rolling strategy', () => {
  it('reads maxSurge/maxUnavailable from the rendered prod overlay', () => {
    const yaml = execFileSync('kubectl', ['kustomize', join(REPO_ROOT, 'k8s/overlays/prod')], { encoding: 'utf8' });
    const s = strategyOf(parseManifests(yaml), DEPLOYMENT_NAME);
    expect(s).toEqual({ replicas: 3, maxSurge: 1, maxUnavailable: 0 });
    expect(rolloutSteps(s)).toEqual([
      { kind: 'start', count: 1 },
      { kind: 'drain' },
      { kind: 'start', count: 1 },
      { kind: 'drain' },
      { kind: 'start', count: 1 },
      { kind: 'drain' },
    ]);
  });

  it('percentages round as Kubernetes does; every strategy ends with all new and keeps the bounds', () => {
    expect(strategy(10, '25%', '25%')).toEqual({ replicas: 10, maxSurge: 3, maxUnavailable: 2 });
    for (const [n, surge, unavail] of [
      [3, 1, 0],
      [3, 0, 1],
      [5, 2, 1],
      [4, '50%', '0%'],
      [1, '25%', '25%'],
    ] as const)
      expect(replay(strategy(n, surge, unavail))).toEqual({ old: 0, fresh: n });
    expect(() => strategy(3, 0, 0)).toThrow(/both be 0/);
    expect(() => strategy(3, '1.5', 0)).toThrow(/maxSurge/);
  });
});
