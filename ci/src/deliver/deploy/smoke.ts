/**
 * After a rollout: the health routes and one real API call must answer. A few retries absorb the load
 * balancer catching up; anything else is a failure (fail closed, including a missing API key).
 */
import { failed, inconclusive, isPass, passed, worstOutcome, type Verdict } from '../../definitions/verdict.js';

export type Fetch = (
  url: string,
  init?: { method?: string; headers?: Record<string, string>; signal?: AbortSignal },
) => Promise<{ status: number; text(): Promise<string> }>;

export interface SmokeCheck {
  readonly name: string;
  readonly path: string;
  readonly needsApiKey: boolean;
  /** Validates the body of a 200 answer; returns a problem or undefined. */
  readonly body?: (text: string) => string | undefined;
}

export const SMOKE_CHECKS: readonly SmokeCheck[] = [
  { name: 'liveness', path: '/healthz', needsApiKey: false },
  { name: 'readiness', path: '/readyz', needsApiKey: false },
  {
    name: 'metrics',
    path: '/metrics',
    needsApiKey: false,
    body: (t) => (t.includes('# TYPE') ? undefined : 'no Prometheus metrics in the body'),
  },
  {
    name: 'search',
    path: '/api/v1/tools?q=github&limit=1',
    needsApiKey: true,
    body: (t) => {
      try {
        JSON.parse(t);
        return undefined;
      } catch {
        return 'body is not JSON';
      }
    },
  },
];

export interface SmokeOptions {
  readonly baseUrl: string;
  readonly apiKey?: string;
  readonly fetch?: Fetch;
  readonly attempts?: number;
  readonly delayMs?: number;
  readonly timeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly checks?: readonly SmokeCheck[];
}

/** One check's verdict: what it saw (`GET /path: HTTP 200`) or why it did not pass. */
export interface SmokeCheckVerdict extends Verdict {
  readonly name: string;
}

/** The smoke test: the worst of its checks; its reasons name the checks that did not pass (all of them on a pass). */
export interface SmokeResult extends Verdict {
  readonly results: readonly SmokeCheckVerdict[];
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runSmoke(opts: SmokeOptions): Promise<SmokeResult> {
  const doFetch = opts.fetch ?? (globalThis.fetch as unknown as Fetch);
  const attempts = opts.attempts ?? 5;
  const sleep = opts.sleep ?? defaultSleep;
  const base = opts.baseUrl.replace(/\/+$/, '');
  const results: SmokeCheckVerdict[] = [];
  for (const check of opts.checks ?? SMOKE_CHECKS) {
    if (check.needsApiKey && !opts.apiKey) {
      results.push({ name: check.name, ...inconclusive(`API_KEY is not set: cannot call ${check.path}`) });
      continue;
    }
    let detail = '';
    let ok = false;
    for (let i = 1; i <= attempts && !ok; i++) {
      try {
        const res = await doFetch(base + check.path, {
          headers: check.needsApiKey && opts.apiKey ? { 'x-api-key': opts.apiKey } : {},
          signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
        });
        const text = await res.text();
        const problem = res.status !== 200 ? `HTTP ${res.status}` : check.body?.(text);
        ok = problem === undefined;
        detail = ok ? 'HTTP 200' : `${problem} (attempt ${i}/${attempts})`;
      } catch (err) {
        detail = `${(err as Error).message} (attempt ${i}/${attempts})`;
      }
      if (!ok && i < attempts) await sleep(opts.delayMs ?? 2000);
    }
    const said = `GET ${check.path}: ${detail}`;
    results.push({ name: check.name, ...(ok ? passed(said) : failed(said)) });
  }
  const outcome = worstOutcome(results.map((r) => r.outcome));
  // On a pass every check says what it saw; otherwise only the checks that did not pass.
  const told = outcome === 'passed' ? results : results.filter((r) => !isPass(r));
  return { outcome, reasons: told.map((r) => `${r.name}: ${r.reasons.join('; ')}`), results };
}
