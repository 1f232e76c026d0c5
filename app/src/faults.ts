/**
 * Fault mode for dev and tests (config refuses it elsewhere): added latency, a ratio of 503s on /api/v1,
 * and a failing /healthz, so the rollback watcher and latency gate can be proven against the real service.
 */
export interface FaultSettings {
  latencyMs: number;
  errorRatio: number;
  failHealth: boolean;
}

export const NO_FAULTS: Readonly<FaultSettings> = Object.freeze({ latencyMs: 0, errorRatio: 0, failHealth: false });

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

  /** What to do to one API request: wait this long, then fail or not. */
  decide(): { delayMs: number; fail: boolean } {
    if (!this.enabled) return { delayMs: 0, fail: false };
    return { delayMs: this.current.latencyMs, fail: this.current.errorRatio > 0 && this.random() < this.current.errorRatio };
  }
}
