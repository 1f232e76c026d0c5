/**
 * The rate limit's counter (plugins/rate-limit.ts): counts in Redis (shared by every replica) and falls back to a
 * per-process window when Redis is not ready or a command fails, so an outage never blocks traffic.
 * One counter per client key across all routes: RATE_LIMIT_MAX is per key per window.
 *
 * A Redis round trip per request cost about a third of the CPU of a cached read, so a process takes
 * leases: a Lua script grants it up to N requests of what is left of the window's quota (never more than
 * is left, atomically), and the process admits that many locally. Replicas cannot overshoot together,
 * however many there are, because every admitted request was granted by Redis first. A lease is at most
 * LEASE_SHARE of what is left and about what this process used in the last LEASE_DEMAND_MS, so near the
 * limit leases shrink to single requests and one busy replica cannot starve the others. Tokens a process
 * has not used within RETURN_IDLE_MS go back, so idle replicas do not hold quota others could use.
 */
import type { Redis } from 'ioredis';

export type RateCount = { current: number; ttl: number };
type Result = RateCount;
type Callback = (res: Result) => void;

export const LEASE_SHARE = 1 / 8;
export const LEASE_DEMAND_MS = 100;
export const RETURN_IDLE_MS = 100;

// KEYS[1] counter; ARGV window ms, wanted, max. Returns {count after the grant, ttl ms, granted}.
const LEASE = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(tonumber(ARGV[2]), tonumber(ARGV[3]) - cur)
if grant > 0 then cur = redis.call('INCRBY', KEYS[1], grant) else grant = 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  if cur > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
  ttl = tonumber(ARGV[1])
end
return {cur, ttl, grant}`;
// Gives unused tokens back, only while the same window is alive (the caller checks it has time left).
const GIVE_BACK = `
if redis.call('PTTL', KEYS[1]) > 0 then return redis.call('DECRBY', KEYS[1], ARGV[1]) end
return 0`;

export class LocalWindows {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  constructor(private readonly maxKeys = 10_000) {}

  incr(key: string, windowMs: number, now = Date.now()): Result {
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      if (this.windows.size >= this.maxKeys) this.sweep(now);
      w = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, w);
    }
    w.count++;
    return { current: w.count, ttl: w.resetAt - now };
  }

  private sweep(now: number): void {
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
    // Still full (an attack with many keys): forget the oldest entries rather than grow without bound.
    for (const k of this.windows.keys()) {
      if (this.windows.size < this.maxKeys) break;
      this.windows.delete(k);
    }
  }
}

/** What this process holds of one key's shared window. */
interface Lease {
  /** The shared count as Redis last told it (after our last grant). */
  total: number;
  /** Granted to this process and not used yet. */
  tokens: number;
  resetAt: number;
  lastUse: number;
  /** Requests seen in the current and previous LEASE_DEMAND_MS slot (the lease size follows demand). */
  demand: number;
  prevDemand: number;
  slot: number;
  waiters: { cb: Callback; windowMs: number }[];
  asking: boolean;
  windowMs: number;
  max: number;
}

/** Pure: how many requests to ask Redis for. */
export function leaseSize(max: number, knownTotal: number, waiting: number, recentDemand: number): number {
  const share = Math.floor(Math.max(0, max - knownTotal) * LEASE_SHARE);
  return Math.max(1, waiting, Math.min(share, recentDemand));
}

/** The two Lua scripts as commands on this connection (defineCommand sends EVALSHA, the body once). */
function leaseCommands(redis: Redis) {
  if (!('kgraphLease' in redis)) {
    redis.defineCommand('kgraphLease', { numberOfKeys: 1, lua: LEASE });
    redis.defineCommand('kgraphGiveBack', { numberOfKeys: 1, lua: GIVE_BACK });
  }
  return redis as unknown as {
    kgraphLease(k: string, windowMs: number, want: number, max: number): Promise<[number, number, number]>;
    kgraphGiveBack(k: string, n: number): Promise<number>;
  };
}

function newLease(windowMs: number, max: number, now: number): Lease {
  return {
    total: 0,
    tokens: 0,
    resetAt: 0,
    lastUse: now,
    demand: 0,
    prevDemand: 0,
    slot: 0,
    waiters: [],
    asking: false,
    windowMs,
    max,
  };
}

/** Counts one request into the lease's demand slots (the lease size follows the last two slots). */
function countDemand(l: Lease, now: number): void {
  const slot = Math.floor(now / LEASE_DEMAND_MS);
  if (slot !== l.slot) {
    l.prevDemand = slot === l.slot + 1 ? l.demand : 0;
    l.demand = 0;
    l.slot = slot;
  }
  l.demand++;
}

/**
 * Applies Redis's answer to a lease and serves its waiters from the new tokens. Returns the waiters still
 * unserved: refused when the window's quota is used up, else to be asked for again.
 */
function applyGrant(l: Lease, [total, ttl, granted]: [number, number, number], now: number): Lease['waiters'] {
  if (l.resetAt <= now) l.tokens = 0; // tokens of a window that ended are void
  l.total = total;
  l.resetAt = now + ttl;
  l.tokens += granted;
  const waiters = l.waiters.splice(0);
  let i = 0;
  for (; i < waiters.length && l.tokens > 0; i++) {
    l.tokens--;
    waiters[i]!.cb({ current: l.total - l.tokens, ttl });
  }
  const rest = waiters.slice(i);
  if (total < l.max) return rest;
  for (const w of rest) w.cb({ current: l.max + 1, ttl });
  return [];
}

/** What an idle pass does with a lease: forget it, return its unused tokens, wait, or leave it. */
function idleStep(l: Lease, now: number): 'forget' | 'give-back' | 'wait' | 'keep' {
  if (l.asking) return l.tokens > 0 ? 'wait' : 'keep';
  if (l.resetAt <= now && l.waiters.length === 0) return 'forget';
  if (l.tokens === 0) return 'keep';
  return now - l.lastUse >= RETURN_IDLE_MS && l.resetAt - now > 1_000 ? 'give-back' : 'wait';
}

/** The state one store shares across its instances and children: the leases, the fallback windows, the timer. */
class Leases {
  private readonly local = new LocalWindows();
  private readonly leases = new Map<string, Lease>();
  private readonly r: ReturnType<typeof leaseCommands>;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly onFallback: (err: unknown) => void,
  ) {
    this.r = leaseCommands(redis);
  }

  /** Admits one request from a token this process holds, else queues it and asks Redis for more. */
  incr(key: string, cb: Callback, windowMs: number, max: number): void {
    if (this.redis.status !== 'ready') {
      cb(this.local.incr(key, windowMs));
      return;
    }
    const now = Date.now();
    const l = this.leases.get(key) ?? this.leases.set(key, newLease(windowMs, max, now)).get(key)!;
    l.windowMs = windowMs;
    l.max = max;
    l.lastUse = now;
    countDemand(l, now);
    if (l.tokens > 0 && l.resetAt > now) {
      l.tokens--;
      cb({ current: l.total - l.tokens, ttl: l.resetAt - now });
      return;
    }
    if (l.resetAt <= now) l.tokens = 0;
    l.waiters.push({ cb, windowMs });
    this.ask(key, l);
  }

  private redisKey(key: string): string {
    return `${this.prefix}ratelimit:${key}`;
  }

  /** One lease request in flight per key: its answer serves every waiter queued meanwhile. */
  private ask(key: string, l: Lease): void {
    if (l.asking) return;
    l.asking = true;
    const want = leaseSize(l.max, l.total, l.waiters.length, Math.max(l.demand, l.prevDemand));
    this.r.kgraphLease(this.redisKey(key), l.windowMs, want, l.max).then(
      (answer) => this.granted(key, l, answer),
      (err: unknown) => {
        l.asking = false;
        this.fallback(key, l, err);
      },
    );
  }

  private granted(key: string, l: Lease, answer: [number, number, number]): void {
    l.asking = false;
    const unserved = applyGrant(l, answer, Date.now());
    if (unserved.length > 0) {
      l.waiters.push(...unserved);
      this.ask(key, l);
    }
    this.scheduleGiveBack();
  }

  /** Redis failed: the waiters are counted in this process's own window instead. */
  private fallback(key: string, l: Lease, err: unknown): void {
    this.onFallback(err);
    for (const w of l.waiters.splice(0)) w.cb(this.local.incr(key, w.windowMs));
  }

  private scheduleGiveBack(): void {
    this.timer ??= setTimeout(this.giveBack, RETURN_IDLE_MS).unref();
  }

  /** An idle pass over every lease (a bound arrow: it is the timer's callback). */
  private readonly giveBack = (): void => {
    this.timer = undefined;
    const now = Date.now();
    let pending = false;
    for (const [key, l] of this.leases) {
      const step = idleStep(l, now);
      if (step === 'forget') this.leases.delete(key);
      else if (step === 'wait') pending = true;
      else if (step === 'give-back') this.returnTokens(key, l);
    }
    if (pending) this.scheduleGiveBack();
  };

  private returnTokens(key: string, l: Lease): void {
    const n = l.tokens;
    l.tokens = 0;
    l.total -= n;
    // A lost give-back only makes the limit stricter for the rest of this window, never laxer.
    this.r.kgraphGiveBack(this.redisKey(key), n).catch((err: unknown) => this.onFallback(err));
  }
}

/**
 * Counts one request of `key` against `max` per `windowMs`, answering with the window's count and the ms
 * left in it: at once (synchronously) from a token this process holds, else when Redis has answered.
 */
export type RateCounter = (key: string, windowMs: number, max: number, answer: (count: RateCount) => void) => void;

/** One shared set of leases for every scope that counts through it. */
export function rateLimitCounter(
  redis: Redis,
  prefix: string,
  onFallback: (err: unknown) => void = () => undefined,
): RateCounter {
  const leases = new Leases(redis, prefix, onFallback);
  return (key, windowMs, max, answer) => leases.incr(key, answer, windowMs, max);
}
