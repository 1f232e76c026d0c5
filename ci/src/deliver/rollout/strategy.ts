/**
 * The Deployment's RollingUpdate strategy as the rehearsal follows it, pure: read maxSurge and
 * maxUnavailable from the rendered manifests (integers or percentages, rounded as Kubernetes does:
 * surge up, unavailable down), and turn them into the order of starts and drains that keeps at most
 * replicas + surge instances and at least replicas - unavailable ready ones.
 */
import type { KubeObject } from '../../platform/kube/validate.js';

export interface RollingStrategy {
  readonly replicas: number;
  readonly maxSurge: number;
  readonly maxUnavailable: number;
}

/** One step of a rollout: start `count` new instances (and wait for them to be ready), or drain one old one. */
export type RolloutStep = { readonly kind: 'start'; readonly count: number } | { readonly kind: 'drain' };

function resolve(value: unknown, replicas: number, round: 'up' | 'down', field: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  const m = typeof value === 'string' ? /^(\d{1,3})%$/.exec(value) : null;
  if (m) {
    const exact = (Number(m[1]) * replicas) / 100;
    return round === 'up' ? Math.ceil(exact) : Math.floor(exact);
  }
  throw new RangeError(`${field} must be a non-negative integer or a percentage, got ${JSON.stringify(value)}`);
}

/** The strategy of the Deployment `name` in rendered manifests; Kubernetes' defaults (25%/25%) where unset. */
export function strategyOf(objects: readonly KubeObject[], name: string, replicasOverride?: number): RollingStrategy {
  const d = objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === name);
  if (!d) throw new RangeError(`the manifests have no Deployment/${name}`);
  const spec = (d.spec ?? {}) as {
    replicas?: number;
    strategy?: { type?: string; rollingUpdate?: { maxSurge?: unknown; maxUnavailable?: unknown } };
  };
  if (spec.strategy?.type && spec.strategy.type !== 'RollingUpdate')
    throw new RangeError(`Deployment/${name} uses strategy ${spec.strategy.type}, not RollingUpdate`);
  const replicas = replicasOverride ?? spec.replicas ?? 1;
  const ru = spec.strategy?.rollingUpdate ?? {};
  return strategy(replicas, ru.maxSurge ?? '25%', ru.maxUnavailable ?? '25%');
}

export function strategy(replicas: number, maxSurge: unknown, maxUnavailable: unknown): RollingStrategy {
  if (!Number.isInteger(replicas) || replicas < 1) throw new RangeError(`replicas must be at least 1, got ${replicas}`);
  const s = {
    replicas,
    maxSurge: resolve(maxSurge, replicas, 'up', 'maxSurge'),
    maxUnavailable: resolve(maxUnavailable, replicas, 'down', 'maxUnavailable'),
  };
  // Kubernetes refuses both zero: nothing could ever move.
  if (s.maxSurge === 0 && s.maxUnavailable === 0) throw new RangeError('maxSurge and maxUnavailable cannot both be 0');
  return s;
}

/** The steps that replace every old instance with a new one under the strategy, drains one at a time. */
export function rolloutSteps(s: RollingStrategy): RolloutStep[] {
  const steps: RolloutStep[] = [];
  let old = s.replicas;
  let fresh = 0;
  while (old > 0 || fresh < s.replicas) {
    const room = Math.min(s.replicas - fresh, s.replicas + s.maxSurge - (old + fresh));
    if (room > 0) {
      steps.push({ kind: 'start', count: room });
      fresh += room;
      continue;
    }
    // Draining one keeps at least replicas - maxUnavailable ready (new ones count once they are ready).
    if (old === 0 || old + fresh - 1 < s.replicas - s.maxUnavailable)
      throw new Error('the strategy cannot make progress');
    steps.push({ kind: 'drain' });
    old -= 1;
  }
  return steps;
}
