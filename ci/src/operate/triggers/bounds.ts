/**
 * How soon after a fault each trigger must fire: the trigger's window plus one poll. For the health
 * trigger the window is its run of failed checks. A latency fault can only be seen once the slow
 * responses finish, so its own added latency is added to the p95 bound.
 */
import type { RollbackTriggers } from '../../definitions/environments.js';
import type { TriggerName } from './evaluator.js';

export function detectionBoundSeconds(t: RollbackTriggers, trigger: TriggerName, addedLatencySeconds = 0): number {
  switch (trigger) {
    case 'health':
      return t.consecutiveHealthFailures * t.pollSeconds;
    case 'errorRate':
      return t.errorRate.sustainedSeconds + t.pollSeconds;
    case 'p95':
      return t.p95.sustainedSeconds + t.pollSeconds + addedLatencySeconds;
  }
}
