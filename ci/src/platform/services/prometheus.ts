/**
 * A real Prometheus on this machine (Debian's `prometheus` 2.42 and its `promtool`, installed by .ci/run):
 * promtool for checking and unit-testing the generated alert rules, and a short-lived server on 127.0.0.1
 * that scrapes local service instances, for the fault drill and the dashboard queries. Thin I/O only.
 */
import { constants } from 'node:fs';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { stringify } from 'yaml';
import { runProcess, startProcess, type ProcessResult, type RunningProcess } from '../process/run.js';
import { freePort } from './local-app.js';

/** Why Prometheus cannot run here, or undefined when both binaries are on PATH (a lookup, not a run: a busy machine cannot make it flaky). */
export async function prometheusMissing(): Promise<string | undefined> {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const bin of ['promtool', 'prometheus']) {
    const found = await Promise.any(dirs.map((d) => access(join(d, bin), constants.X_OK))).then(
      () => true,
      () => false,
    );
    if (!found) return `${bin} is not installed (apt-get install prometheus; .ci/run does it)`;
  }
  return undefined;
}

/** `promtool <args>` in `cwd`; the result whatever the exit code. */
export function promtool(args: readonly string[], cwd: string): Promise<ProcessResult> {
  return runProcess({ argv: ['promtool', ...args], cwd, timeoutMs: 60_000 });
}

export interface ScrapeTarget {
  /** host:port on 127.0.0.1. */
  readonly address: string;
  /** Labels every sample of this target gets (`namespace`, `pod`, …), as the Kubernetes service discovery adds. */
  readonly labels: Readonly<Record<string, string>>;
}

export interface LocalPrometheusOptions {
  readonly targets: readonly ScrapeTarget[];
  readonly scrapeIntervalSeconds: number;
  /** Rule files' text (YAML), evaluated every `scrapeIntervalSeconds`. */
  readonly ruleFiles?: readonly string[];
  readonly readyTimeoutMs?: number;
}

export interface LocalPrometheus {
  readonly url: string;
  stop(): Promise<void>;
  logs(): string;
}

const seconds = (s: number) => `${Math.round(s * 1000)}ms`;

/** The prometheus.yml for the targets: one job, static targets with their labels. */
export function scrapeConfig(o: LocalPrometheusOptions, ruleFileNames: readonly string[]): string {
  return stringify({
    global: {
      scrape_interval: seconds(o.scrapeIntervalSeconds),
      scrape_timeout: seconds(Math.min(o.scrapeIntervalSeconds, 10)),
      evaluation_interval: seconds(o.scrapeIntervalSeconds),
    },
    rule_files: ruleFileNames,
    scrape_configs: [
      {
        job_name: 'kgraph-mcp',
        static_configs: o.targets.map((t) => ({ targets: [t.address], labels: t.labels })),
      },
    ],
  });
}

/** Starts Prometheus on a free 127.0.0.1 port with its own data directory; ready when /-/ready answers. */
export async function startLocalPrometheus(o: LocalPrometheusOptions): Promise<LocalPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'kgraph-prometheus-'));
  const rules = (o.ruleFiles ?? []).map((_, i) => `rules-${i}.yml`);
  await Promise.all((o.ruleFiles ?? []).map((text, i) => writeFile(join(dir, rules[i]!), text, 'utf8')));
  await writeFile(join(dir, 'prometheus.yml'), scrapeConfig(o, rules), 'utf8');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const proc: RunningProcess = await startProcess({
    argv: [
      'prometheus',
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    cwd: dir,
    maxOutputChars: 20_000,
  });
  const keep = (c: Buffer | string) => (output = (output + c.toString()).slice(-20_000));
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  let exited = false;
  void proc.done.then(() => (exited = true));
  const stop = async () => {
    proc.kill('SIGTERM');
    await proc.done;
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (o.readyTimeoutMs ?? 30_000);
  for (;;) {
    const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ready) break;
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus did not become ready on ${url}: ${output.trim().split('\n').slice(-3).join(' | ')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, stop, logs: () => output };
}

interface ApiAnswer<T> {
  status: string;
  error?: string;
  data?: T;
}

export interface InstantSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One instant query through Prometheus' HTTP API (/api/v1/query), as Grafana and the watcher ask it. */
export async function instantQuery(promUrl: string, query: string, timeoutMs = 5000): Promise<InstantSample[]> {
  const url = new URL('/api/v1/query', promUrl);
  url.searchParams.set('query', query);
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = (await res.json().catch(() => ({ status: 'error', error: `HTTP ${res.status}` }))) as ApiAnswer<{
    resultType: string;
    result: { metric: Record<string, string>; value: [number, string] }[] | [number, string];
  }>;
  if (body.status !== 'success' || !body.data) throw new Error(`query ${query}: ${body.error ?? `HTTP ${res.status}`}`);
  const { resultType, result } = body.data;
  if (resultType === 'scalar') return [{ metric: {}, value: Number((result as [number, string])[1]) }];
  if (resultType !== 'vector') throw new Error(`query ${query}: answered a ${resultType}, expected a vector`);
  return (result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => ({
    metric: r.metric,
    value: Number(r.value[1]),
  }));
}
