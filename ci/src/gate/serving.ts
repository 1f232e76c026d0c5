/**
 * How the candidate (and a baseline) are served for a gate run: one strategy per serving mode, chosen
 * from the command's plan. `url`: a running service; `app`: this checkout started locally on a fresh
 * database (and a baseline ref served the same way from a git worktree); `image`: the built image in the
 * local engine. Each strategy only starts and stops what it serves and hands targets to `gate`.
 */
import type { EnvironmentDefinition } from '../definitions/environments.js';
import { REPO_ROOT } from '../platform/repo-root.js';
import type { BaselineRef } from './baseline.js';
import type { GateTarget, LatencyGateReport } from './latency.js';

export type Baseline = GateTarget | { readonly unavailable: string };
/** Runs the gate on what a strategy serves. */
export type GateWith = (candidate: GateTarget, baseline?: Baseline) => Promise<LatencyGateReport>;

export type Serving =
  | { readonly kind: 'url'; readonly url: string; readonly apiKey: string }
  | { readonly kind: 'app' }
  | { readonly kind: 'image' };

export interface ServingContext {
  readonly env: EnvironmentDefinition;
  /** A running baseline service (from --baseline-url), when one was given. */
  readonly baselineUrl?: GateTarget;
  /** A release to serve as the baseline (from --baseline-ref or the last tag), when one was found. */
  readonly baselineRef?: Extract<BaselineRef, { sha: string }>;
  readonly log: (line: string) => void;
}

type Strategy = (c: ServingContext, gate: GateWith) => Promise<LatencyGateReport>;

const atUrl =
  (s: Extract<Serving, { kind: 'url' }>): Strategy =>
  (c, gate) =>
    gate({ baseUrl: s.url, apiKey: s.apiKey }, c.baselineUrl);

const image: Strategy = async (c, gate) => {
  // A ref would be served as a host process, which is not the same kind of thing to compare an image with.
  if (c.baselineRef) c.log('no baseline for --serve image without --baseline-url; absolute limits only');
  const { withServedImage } = await import('../verify/image/serve.js');
  return withServedImage(
    c.env,
    (s) => gate({ baseUrl: s.url, apiKey: s.apiKey, served: `image ${s.image.slice(0, 19)}` }, c.baselineUrl),
    { log: c.log },
  );
};

const app: Strategy = async (c, gate) => {
  const { withServedApp, defaultEntry } = await import('./serve.js');
  return withServedApp(
    c.env,
    async (s) => {
      const candidate = { baseUrl: s.app.url, apiKey: s.apiKey, served: s.served };
      if (c.baselineUrl || !c.baselineRef) return gate(candidate, c.baselineUrl);
      return serveBaselineRef(c, c.baselineRef, candidate, defaultEntry() === 'dist', gate);
    },
    { log: c.log, label: 'candidate' },
  );
};

/** The baseline release from a worktree beside the candidate; when it cannot start, the verdict says why. */
async function serveBaselineRef(
  c: ServingContext,
  r: { readonly ref: string; readonly sha: string },
  candidate: GateTarget,
  build: boolean,
  gate: GateWith,
): Promise<LatencyGateReport> {
  const [{ withRefWorktree }, { withServedApp }] = await Promise.all([import('./baseline.js'), import('./serve.js')]);
  let served = false;
  try {
    return await withRefWorktree(
      REPO_ROOT,
      r.sha,
      (root) =>
        withServedApp(
          c.env,
          (b) => {
            served = true;
            return gate(candidate, { baseUrl: b.app.url, apiKey: b.apiKey, served: b.served });
          },
          { log: c.log, root, entry: build ? 'dist' : 'source', label: `baseline ${r.ref}` },
        ),
      { log: (l) => c.log(`baseline ${r.ref}: ${l}`), build },
    );
  } catch (err) {
    if (served) throw err;
    const why = `baseline ${r.ref} (${r.sha.slice(0, 12)}) could not be served: ${(err as Error).message.split('\n')[0]}`;
    c.log(why);
    return gate(candidate, { unavailable: why });
  }
}

export function servingStrategy(s: Serving): Strategy {
  switch (s.kind) {
    case 'url':
      return atUrl(s);
    case 'image':
      return image;
    case 'app':
      return app;
  }
}
