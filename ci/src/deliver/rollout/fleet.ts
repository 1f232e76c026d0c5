/**
 * The instances of a rehearsal: each release's processes on this machine, all on one database and one
 * Redis prefix, behind the round-robin proxy. An instance joins the rotation once /readyz says ready and
 * leaves it before it gets SIGTERM (then drains and exits as a pod does). Thin I/O over startLocalApp.
 */
import { join } from 'node:path';
import { runChecked } from '../../platform/process/run.js';
import { startLocalApp, type LocalApp } from '../../platform/services/local-app.js';
import type { RoundRobinProxy } from './proxy.js';
import type { InstanceSpan } from './report.js';

export interface Release {
  /** "previous" or "candidate". */
  readonly version: string;
  /** Checkout the service runs from (app/src through tsx). */
  readonly root: string;
  /** Extra environment for its instances. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface Fleet {
  start(release: Release, count: number): Promise<void>;
  /** The oldest instance of `version` leaves the rotation, gets SIGTERM and exits. */
  drainOne(version: string): Promise<void>;
  count(version: string): number;
  spans(): InstanceSpan[];
  /** What an instance logged (also after it exited), to say where a failure came from. */
  logsOf(id: string): string | undefined;
  stopAll(): Promise<void>;
}

export function createFleet(
  proxy: RoundRobinProxy,
  env: Readonly<Record<string, string>>,
  log: (line: string) => void,
): Fleet {
  const running: { id: string; version: string; app: LocalApp; span: { from: number; to?: number } }[] = [];
  const done: InstanceSpan[] = [];
  const logs = new Map<string, () => string>();
  let n = 0;
  const startOne = async (release: Release) => {
    const id = `${release.version}-${++n}`;
    const app = await startLocalApp({
      env: { ...env, ...release.env },
      root: release.root,
      migrate: false,
      readyTimeoutMs: 120_000,
      maxLogChars: 200_000,
    });
    logs.set(id, () => app.logs());
    proxy.add({ id, version: release.version, url: app.url });
    running.push({ id, version: release.version, app, span: { from: Date.now() } });
    log(`${id} ready at ${app.url}, in rotation`);
  };
  return {
    async start(release, count) {
      await Promise.all(Array.from({ length: count }, () => startOne(release)));
    },
    async drainOne(version) {
      const i = running.findIndex((r) => r.version === version);
      if (i < 0) throw new Error(`no ${version} instance left to drain`);
      const [r] = running.splice(i, 1);
      proxy.remove(r!.id);
      done.push({ id: r!.id, version, from: r!.span.from, to: Date.now() });
      log(`${r!.id} out of rotation, SIGTERM`);
      const code = await r!.app.stop('SIGTERM');
      log(`${r!.id} exited (${code})`);
      if (code !== 0)
        throw new Error(`${r!.id} did not shut down cleanly (exit ${code}):\n${r!.app.logs().slice(-1_000)}`);
    },
    count: (version) => running.filter((r) => r.version === version).length,
    logsOf: (id) => logs.get(id)?.(),
    spans: () => [...done, ...running.map((r) => ({ id: r.id, version: r.version, from: r.span.from }))],
    async stopAll() {
      await Promise.allSettled(running.splice(0).map((r) => r.app.stop('SIGTERM')));
    },
  };
}

/** Runs one of the service's scripts (migrate, seed) from a release's checkout. */
export async function runAppScript(
  root: string,
  script: 'migrate' | 'seed',
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<void> {
  await runChecked({
    argv: [process.execPath, '--import', 'tsx', join(root, 'app', 'src', `${script}.ts`), ...args],
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ENVIRONMENT: 'dev', ...env },
    timeoutMs: 300_000,
  });
}
