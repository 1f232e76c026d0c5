/**
 * The short chaos run: two instances under mixed load, Postgres and Redis each cut and restored twice.
 * No crash, no 5xx other than 503, no acknowledged write lost, no read staler than 1 s after a write's
 * 200, and every restore recovered. (Recovery within 2 s is the target of bench/chaos.ts, which prints
 * the times; here only that it recovers at all, as timing depends on the machine's load.)
 */
import { describe, expect, it } from 'vitest';
import { useEphemeralServices } from '../../testkit/services.js';
import { chaosBoundMs, runChaos } from './chaos.js';

const svc = useEphemeralServices();

const RUN = { cycles: 2, normalMs: 1_500, outageMs: 1_500, writers: 4, readers: 4 };

describe('chaos (short)', () => {
  it(
    'Postgres and Redis cut twice each under load: 0 crashes, 0 non-503 5xx, 0 lost writes, 0 stale reads',
    async () => {
      const r = await runChaos({ env: svc.current.env, ...RUN });
      console.log(`chaos (short): ${JSON.stringify({ ...r, examples: r.examples.slice(0, 5) })}`);
      expect(r.examples).toEqual([]);
      expect({
        crashes: r.crashes,
        serverErrors: r.serverErrors,
        transportErrors: r.transportErrors,
        lostWrites: r.lostWrites,
        staleReads: r.staleReads,
      }).toEqual({
        crashes: 0,
        serverErrors: 0,
        transportErrors: 0,
        lostWrites: 0,
        staleReads: 0,
      });
      expect(r.recoveries).toHaveLength(4);
      expect(r.recoveries.filter((x) => x.ms === null)).toEqual([]);
      expect(r.acknowledgedWrites).toBeGreaterThan(20);
      expect(r.reads).toBeGreaterThan(100);
      expect(r.exitCodes).toEqual([0, 0]);
      // Bounded by the run's own limits (seen taking over 120 s beside a second suite at load 19).
    },
    chaosBoundMs(RUN),
  );
});
