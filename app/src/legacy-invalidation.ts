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
 * So every write here, and every change of the token this instance notices (another new pod's write, a
 * write from psql), also does the old invalidation; and once more `REPEAT_MS` later, because an old pod
 * may have read the database just before the commit and store that value in Redis just after the first
 * drop. Old pods' own writes need nothing: they drop their keys themselves and bump the token through the
 * database trigger. Cost: one script and one publish per write, on an empty set once no old pod runs.
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

/** The second drop catches a value an old pod computed before the commit and stored after the first. */
export const REPEAT_MS = 400;

export class LegacyInvalidation {
  private repeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly onError: (err: unknown) => void = () => undefined,
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

  /** Now and once more a little later (coalesced: a burst of writes schedules one repeat). */
  async afterWrite(): Promise<void> {
    if (!this.repeat) {
      this.repeat = setTimeout(() => {
        this.repeat = undefined;
        void this.invalidate();
      }, REPEAT_MS);
      this.repeat.unref();
    }
    await this.invalidate();
  }

  stop(): void {
    clearTimeout(this.repeat);
    this.repeat = undefined;
  }
}
