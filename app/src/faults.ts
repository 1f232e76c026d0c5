/**
 * Fault mode for dev and tests (config refuses it elsewhere): added latency, a ratio of 503s on /api/v1,
 * and a failing /healthz, so the rollback watcher and latency gate can be proven against the real service.
 * The latency can be held to one route (`latencyPath`, a URL prefix) and spent as CPU instead of a timer
 * (`latencyKind: "cpu"`, a synchronous wait precise below a millisecond, like a slower code path), so the
 * gate's regression check can be measured against small, known slow-downs.
 */
export interface FaultSettings {
  latencyMs: number;
  /** Only requests whose URL starts with this get the latency; '' = every /api/v1 request. */
  latencyPath: string;
  latencyKind: 'sleep' | 'cpu';
  errorRatio: number;
  failHealth: boolean;
  /** API requests throw an unhandled error (answered 500), as a bug would. */
  crash: boolean;
}

export const NO_FAULTS: Readonly<FaultSettings> = Object.freeze({
  latencyMs: 0,
  latencyPath: '',
  latencyKind: 'sleep',
  errorRatio: 0,
  failHealth: false,
  crash: false,
});

export class FaultState {
  private current: FaultSettings = { ...NO_FAULTS };
  constructor(
    readonly enabled: boolean,
    private readonly random: () => number = Math.random,
  ) {}

  get(): FaultSettings {
    return { ...this.current };
  }

  set(patch: Partial<FaultSettings>): FaultSettings {
    this.current = { ...this.current, ...patch };
    return this.get();
  }

  clear(): void {
    this.current = { ...NO_FAULTS };
  }

  get failHealth(): boolean {
    return this.enabled && this.current.failHealth;
  }

  /** What to do to one API request: wait this long (on a timer or on the CPU), then fail or not. */
  decide(url = ''): { delayMs: number; cpu: boolean; fail: boolean; crash: boolean } {
    if (!this.enabled) return { delayMs: 0, cpu: false, fail: false, crash: false };
    const c = this.current;
    const delayMs = c.latencyMs > 0 && url.startsWith(c.latencyPath) ? c.latencyMs : 0;
    return {
      delayMs,
      cpu: c.latencyKind === 'cpu',
      fail: c.errorRatio > 0 && this.random() < c.errorRatio,
      crash: c.crash,
    };
  }
}

/** Spends `ms` of CPU synchronously: a slower code path, precise below a timer's millisecond. */
export function spinFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy on purpose
  }
}
