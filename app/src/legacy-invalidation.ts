/**
 * The previous release's cache protocol, spoken by this one while both may run side by side.
 *
 * Before the generation token (migrations/*_cache_generation.sql), a release cached under
 * `<prefix>cache:<key>`, listed every key in the set `<prefix>cache:index`, and on every write dropped
 * them all (one Lua script) and published on `<prefix>cache:invalidate` so each replica dropped its
 * in-process copies. This release invalidates by the token alone and never touches those keys, so during
 * a rollout from that release (or a rollback to it) the old pods kept serving what they had cached for up
 * to CACHE_TTL_SECONDS (60 s) after a write made by a new pod.
 *
 * So every write here, and every change of the token this instance notices (another new pod's write, an
 * old pod's write through the database trigger, a write from psql), also does the old invalidation, and
 * keeps doing it every `everyMs` for `windowMs` after the last one. Why a window and not one repeat: an old
 * pod reads, then stores what it read without checking that no write committed in between (it only skips
 * the store when its own pub/sub listener has already seen a drop). A read that started before a commit
 * can therefore land in Redis after any single drop, however late, as long as the read lasts; the old
 * release bounds a read by its pool wait (2 s) and query timeout (6 s). While the window is open, such a
 * value lives at most `everyMs` (each drop also publishes, so old pods discard computations that straddle
 * it and their in-process copies). `drain()` keeps the window running at shutdown, so the last new pod of
 * a rollback does not take the protection with it while old pods still hold reads from before its writes.
 * Cost: one script and one publish per `everyMs` after writes, on an empty set once no old pod runs.
 * Switch it off (CACHE_LEGACY_INVALIDATION=false) once no release older than the token can run here: the
 * contract step of this expand/contract change.
 */
import type { Redis } from 'ioredis';

const INVALIDATE = `
local keys = redis.call('SMEMBERS', KEYS[1])
for i = 1, #keys, 500 do
  redis.call('UNLINK', unpack(keys, i, math.min(i + 499, #keys)))
end
redis.call('DEL', KEYS[1])
return #keys`;

export interface LegacyWindow {
  /** Time between drops while the window is open. */
  readonly everyMs: number;
  /** How long after the last write or token change the drops go on: the old release's longest read. */
  readonly windowMs: number;
}

/** 200 ms keeps a late store under the 1 s staleness bar; 10 s covers the old pool wait + query timeout (8 s). */
export const LEGACY_WINDOW: LegacyWindow = { everyMs: 200, windowMs: 10_000 };

export class LegacyInvalidation {
  private timer: NodeJS.Timeout | undefined;
  /** Epoch ms until which drops go on. */
  private until = 0;
  private stopped = false;
  private readonly idle: (() => void)[] = [];

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly onError: (err: unknown) => void = () => undefined,
    private readonly window: LegacyWindow = LEGACY_WINDOW,
    private readonly now: () => number = Date.now,
  ) {}

  /** Drops the previous release's Redis entries and tells its pods to drop their in-process copies. */
  async invalidate(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    try {
      await this.redis.eval(INVALIDATE, 1, `${this.prefix}cache:index`);
      await this.redis.publish(`${this.prefix}cache:invalidate`, 'all');
    } catch (err) {
      this.onError(err);
    }
  }

  /** Now (before the write answers), then every `everyMs` until `windowMs` after the last call. */
  async afterWrite(): Promise<void> {
    if (this.stopped) return;
    this.until = Math.max(this.until, this.now() + this.window.windowMs);
    this.schedule();
    await this.invalidate();
  }

  /** True while drops are still due. */
  open(): boolean {
    return this.timer !== undefined;
  }

  /**
   * Resolves when the window is over (at most `windowMs` from now if nothing calls afterWrite again):
   * shutdown waits for it after the last request is done, before Redis is closed.
   */
  drain(): Promise<void> {
    if (!this.open()) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.settle();
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // The drop at or after the deadline is the last one.
      const more = this.now() < this.until;
      if (more) this.schedule();
      void this.invalidate().then(() => this.settle());
    }, this.window.everyMs);
    this.timer.unref();
  }

  private settle(): void {
    if (this.timer) return;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
