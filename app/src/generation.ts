/**
 * The cache generation as this instance knows it (see migrations/*_cache_generation.sql). Every write
 * commits a new token; this instance learns it at once for its own writes (read inside the transaction,
 * adopted after COMMIT) and every `pollMs` for other instances' writes. A token not confirmed within
 * `maxAgeMs` is not used at all (the cache is bypassed), so whatever fails (Postgres unreachable from
 * here, the poll stuck), no cached value outlives a write on any instance by more than `maxAgeMs`.
 */
import type { Queryable } from './repo.js';

export interface GenerationSource {
  /** The token cache keys must carry now, or undefined: do not use the cache. */
  current(): string | undefined;
}

export interface GenerationOptions {
  readonly pollMs: number;
  readonly maxAgeMs: number;
}
/** 200 ms polling, 800 ms validity: a stale read is over within 1 s of a write's 200 in every case. */
export const DEFAULT_GENERATION: GenerationOptions = { pollMs: 200, maxAgeMs: 800 };

export class CacheGeneration implements GenerationSource {
  private token: string | undefined;
  private confirmedAt = 0;
  /** Bumped by observe(): a poll that started before our own write learned cannot overwrite it. */
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;

  constructor(
    private readonly db: Queryable,
    private readonly opts: GenerationOptions = DEFAULT_GENERATION,
    private readonly onChange: () => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  current(): string | undefined {
    return this.token !== undefined && this.now() - this.confirmedAt < this.opts.maxAgeMs ? this.token : undefined;
  }

  /** The token a transaction of this instance committed (call after COMMIT, never before). */
  observe(token: string): void {
    this.seq++;
    this.set(token, this.now());
  }

  /** Reads the token now; false when Postgres did not answer (the old token then ages out). */
  async poll(): Promise<boolean> {
    const seq = this.seq;
    const started = this.now();
    try {
      const res = await this.db.query<{ token: string }>('SELECT token FROM cache_generation');
      const token = res.rows[0]?.token;
      if (token === undefined) return false;
      // The value was true when the query started: that is the time it is confirmed for.
      if (seq === this.seq) this.set(token, started);
      return true;
    } catch {
      return false;
    }
  }

  /** Starts polling; the promise settles after the first poll. */
  start(): Promise<void> {
    this.stopped = false;
    const loop = async () => {
      await this.poll();
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.opts.pollMs).unref();
    };
    return loop();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private set(token: string, at: number): void {
    if (token !== this.token) {
      this.token = token;
      this.onChange();
    }
    this.confirmedAt = Math.max(this.confirmedAt, at);
  }
}
