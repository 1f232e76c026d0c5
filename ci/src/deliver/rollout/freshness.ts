/**
 * Stale reads after writes, measured where a client sees them: one writer renames a tool every
 * `writeEveryMs` through the proxy (so the writes land on whichever version is in rotation), readers read
 * it every `readEveryMs`. A read is stale when it returns a name older than one whose write had already
 * answered 2xx before the read was sent; how stale = the read's send time minus the answer time of the
 * first write it missed. `staleness` (pure) judges the samples; `runFreshnessProbe` is the I/O.
 */

export interface WriteSample {
  readonly seq: number;
  /** Epoch ms the write's 2xx arrived. */
  readonly ackedAt: number;
}
export interface ReadSample {
  /** Epoch ms the read was sent. */
  readonly sentAt: number;
  /** The seq the read returned (-1: the name from before the first write). */
  readonly seq: number;
}
export interface StaleRead {
  readonly at: number;
  readonly staleMs: number;
}

/**
 * Pure: every stale read, with how stale it was. `unknown` are writes whose outcome the probe never
 * learned (an error or timeout): one may still commit after a later write answered, so a read that returns
 * it cannot be judged either way and is skipped.
 */
export function staleness(
  writes: readonly WriteSample[],
  reads: readonly ReadSample[],
  unknown: readonly number[] = [],
): StaleRead[] {
  const undecided = new Set(unknown);
  const acked = [...writes].sort((a, b) => a.seq - b.seq);
  const ackOf = new Map(acked.map((w) => [w.seq, w.ackedAt]));
  const out: StaleRead[] = [];
  for (const r of reads) {
    if (undecided.has(r.seq)) continue;
    // The first write newer than what the read returned, acknowledged before the read was sent.
    const missed = acked.find((w) => w.seq > r.seq && w.ackedAt <= r.sentAt);
    if (missed) out.push({ at: r.sentAt, staleMs: r.sentAt - (ackOf.get(missed.seq) ?? r.sentAt) });
  }
  return out;
}

export interface FreshnessOptions {
  readonly baseUrl: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The tool to rename (id or slug). */
  readonly tool: string;
  readonly writeEveryMs: number;
  readonly readEveryMs: number;
  readonly label: string;
}

export interface FreshnessProbe {
  stop(): Promise<{ writes: WriteSample[]; reads: ReadSample[]; unknown: number[]; errors: number }>;
}

const NAME = (label: string, seq: number) => `Rehearsal ${label} ${seq}`;

export function runFreshnessProbe(o: FreshnessOptions): FreshnessProbe {
  const writes: WriteSample[] = [];
  const reads: ReadSample[] = [];
  const unknown: number[] = [];
  let errors = 0;
  let seq = 0;
  let stopped = false;
  const url = new URL(`/api/v1/tools/${encodeURIComponent(o.tool)}`, o.baseUrl);
  const pattern = new RegExp(`^Rehearsal ${o.label} (\\d+)$`);
  const timeout = () => AbortSignal.timeout(5_000);
  const write = async () => {
    const n = seq++;
    try {
      const res = await fetch(url, {
        method: 'PATCH',
        headers: { ...o.headers, 'content-type': 'application/json' },
        body: JSON.stringify({ name: NAME(o.label, n) }),
        signal: timeout(),
      });
      await res.arrayBuffer();
      if (res.ok) writes.push({ seq: n, ackedAt: Date.now() });
      else {
        errors++;
        // A 5xx may have committed (the answer was lost after COMMIT); a 4xx did not, but is rare here.
        unknown.push(n);
      }
    } catch {
      errors++;
      unknown.push(n);
    }
  };
  const read = async () => {
    const sentAt = Date.now();
    try {
      const res = await fetch(url, { headers: o.headers, signal: timeout() });
      if (!res.ok) {
        await res.arrayBuffer();
        errors++;
        return;
      }
      const body = (await res.json()) as { name?: string };
      const m = pattern.exec(body.name ?? '');
      reads.push({ sentAt, seq: m ? Number(m[1]) : -1 });
    } catch {
      errors++;
    }
  };
  // Writes one after another: two in flight could commit out of order and make a fresh read look stale.
  const loops = [loop(o.writeEveryMs, write, () => stopped, true), loop(o.readEveryMs, read, () => stopped, false)];
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return { writes, reads, unknown, errors };
    },
  };
}

/** Calls `fn` every `everyMs` until stopped; `serial` waits for each call, else a slow answer does not thin the samples. */
async function loop(everyMs: number, fn: () => Promise<void>, stopped: () => boolean, serial: boolean): Promise<void> {
  const pending = new Set<Promise<void>>();
  while (!stopped()) {
    const p = fn().finally(() => pending.delete(p));
    pending.add(p);
    if (serial) await p;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  await Promise.all(pending);
}
