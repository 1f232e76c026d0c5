/**
 * Executes the GraphQL the Dagger SDK sends, on the local Docker engine. Each query is one chain of
 * fields; each field is an operation of the table below, applied to the value the chain holds so far.
 * `id` hands out a reference to the chain (evaluated when first used, once per definition, as the engine
 * shares identical work in a session); leaves (`sync`, `stdout`, `exitCode`, `entries`, `publish`) run it.
 * An operation missing from the table fails the rehearsal by its name: nothing is skipped.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { answerFor, parseChain, type ArgValue, type Step } from './query.js';
import { copyFiltered, contentHash, sha256, tempDir as makeTempDir } from './files.js';
import {
  copyIntoImage,
  copyOutOfImage,
  execInContainer,
  fail,
  saveTarball,
  type DockerSession,
} from './docker-steps.js';
import {
  durationMs,
  emptyContainer,
  withPair,
  type Container,
  type Directory,
  type File,
  type Secret,
  type Service,
  type Value,
} from './values.js';

/** Where a rehearsal stops on purpose (a push, a tool with no stand-in): reported as reached, not failed. */
export class StopReached extends Error {
  override readonly name = 'StopReached';
}

/** An operation the rehearsal has no implementation for. */
export class UnsupportedOperation extends Error {
  override readonly name = 'UnsupportedOperation';
  constructor(readonly operation: string) {
    super(`the rehearsal cannot execute ${operation}`);
  }
}

/** Starts a service once per definition in a session and answers the address it is reached at. */
export type ServiceStarter = (e: RehearsalEngine, svc: Service) => Promise<string>;

export type StopEvent =
  | { readonly kind: 'exec'; readonly base: string | null; readonly argv: readonly string[] }
  | {
      readonly kind: 'push';
      readonly address: string;
      readonly image: string;
      readonly labels: readonly (readonly [string, string])[];
    };

export interface EngineOptions {
  readonly session: DockerSession;
  /** Reuse results of identical execs from earlier runs (the engine's layer cache). */
  readonly cache: boolean;
  readonly cacheDir: string;
  /** A reason to stop before this event, or undefined to go on. A push always stops. */
  readonly stopAt?: (event: StopEvent) => string | undefined;
  readonly log: (line: string) => void;
  readonly services: ServiceStarter;
  /** The local image for a pinned name (its stand-in, made when missing or stale); undefined when none can exist. */
  readonly baseImage: (address: string) => Promise<{ id: string; workdir: string | undefined } | undefined>;
}

type Op = (engine: RehearsalEngine, self: Value, args: Readonly<Record<string, ArgValue>>) => Promise<Value> | Value;

const ID_PREFIX = 'rh:';

export class RehearsalEngine {
  private readonly chains = new Map<string, Step[]>();
  private readonly memo = new Map<string, Promise<Value>>();
  private nextId = 1;
  /** Every operation executed, `Type.field` (what a report lists). */
  readonly operations = new Set<string>();
  /** Services started by `start` (what `dagger call serve up` exposes). */
  readonly started: { base: string | null; address: string; ports: readonly number[] }[] = [];

  constructor(readonly opts: EngineOptions) {}

  /** The GraphQL `data` for one query. */
  async answer(query: string): Promise<unknown> {
    const steps = parseChain(query);
    const leaf = steps.at(-1)!;
    const prefix = steps.slice(0, -1);
    if (leaf.field === 'id') return answerFor(steps, this.newId(prefix));
    const value = await this.evaluate(prefix);
    return answerFor(steps, await this.leaf(value, leaf, prefix));
  }

  private newId(chain: Step[]): string {
    const id = `${ID_PREFIX}${this.nextId++}`;
    this.chains.set(id, chain);
    return id;
  }

  /** The value an id stands for. */
  resolve(id: ArgValue): Promise<Value> {
    const chain = typeof id === 'string' ? this.chains.get(id) : undefined;
    if (!chain) throw new Error(`unknown object id ${JSON.stringify(id)}`);
    return this.evaluate(chain);
  }

  /** A definition's identity: the chain with every id replaced by its own chain. */
  canonical(chain: readonly Step[]): string {
    const expand = (v: ArgValue): unknown =>
      typeof v === 'string' && v.startsWith(ID_PREFIX) && this.chains.has(v)
        ? JSON.parse(this.canonical(this.chains.get(v)!))
        : Array.isArray(v)
          ? v.map(expand)
          : v;
    return JSON.stringify(chain.map((s) => [s.field, Object.entries(s.args).map(([k, v]) => [k, expand(v)])]));
  }

  private evaluate(chain: readonly Step[]): Promise<Value> {
    const key = this.canonical(chain);
    let found = this.memo.get(key);
    if (!found) {
      found = (async () => {
        if (chain.length === 0) return { t: 'Query' } as const;
        const self = await this.evaluate(chain.slice(0, -1));
        const step = chain.at(-1)!;
        const name = `${self.t}.${step.field}`;
        const op = OPS[name];
        if (!op) throw new UnsupportedOperation(name);
        this.operations.add(name);
        return op(this, self, step.args);
      })();
      this.memo.set(key, found);
    }
    return found;
  }

  private async leaf(value: Value, leaf: Step, prefix: Step[]): Promise<unknown> {
    const name = `${value.t}.${leaf.field}`;
    this.operations.add(name);
    if (leaf.field === 'sync') return this.newId(prefix);
    if (value.t === 'Container' && ['stdout', 'stderr', 'exitCode'].includes(leaf.field)) {
      if (!value.last) throw new Error(`${name} before any withExec`);
      return leaf.field === 'exitCode' ? value.last.exitCode : value.last[leaf.field as 'stdout' | 'stderr'];
    }
    if (value.t === 'Container' && leaf.field === 'publish') {
      const address = String(leaf.args.address);
      const why = this.opts.stopAt?.({ kind: 'push', address, image: value.image ?? '', labels: value.labels });
      throw new StopReached(why ?? `push of ${address} (nothing leaves this machine)`);
    }
    if (value.t === 'Service' && leaf.field === 'start') {
      const address = await this.opts.services(this, value);
      this.started.push({ base: value.container.base, address, ports: value.container.ports });
      return this.newId(prefix);
    }
    if (value.t === 'Directory' && leaf.field === 'entries') return readdirSync(value.path).sort();
    if (value.t === 'File' && leaf.field === 'contents') return readFileSync(value.path, 'utf8');
    throw new UnsupportedOperation(name);
  }

  tempDir(what: string): string {
    return makeTempDir(what);
  }
}

const str = (v: ArgValue | undefined): string | undefined => (v === undefined || v === null ? undefined : String(v));
const strings = (v: ArgValue | undefined): string[] => (Array.isArray(v) ? v.map(String) : []);
const asContainer = (v: Value): Container => v as Container;
const asDirectory = async (e: RehearsalEngine, id: ArgValue | undefined): Promise<Directory> => {
  const v = await e.resolve(id ?? null);
  if (v.t !== 'Directory') throw new Error(`expected a Directory, got ${v.t}`);
  return v;
};
const asFile = async (e: RehearsalEngine, id: ArgValue | undefined): Promise<File> => {
  const v = await e.resolve(id ?? null);
  if (v.t !== 'File') throw new Error(`expected a File, got ${v.t}`);
  return v;
};
const asSecret = async (e: RehearsalEngine, id: ArgValue | undefined): Promise<Secret> => {
  const v = await e.resolve(id ?? null);
  if (v.t !== 'Secret') throw new Error(`expected a Secret, got ${v.t}`);
  return v;
};
/** A container path: absolute, or relative to the workdir. */
const inCtr = (ctr: Container, path: string): string =>
  path.startsWith('/') ? path : `${(ctr.workdir ?? '/').replace(/\/$/, '')}/${path}`.replace(/\/\.$/, '');

function needImage(ctr: Container, op: string): string {
  if (!ctr.image) throw new Error(`${op} on a container without \`from\``);
  return ctr.image;
}

/** A new directory: `base` (copied) with `src` copied to `path` inside it through the filter. */
function dirWith(
  e: RehearsalEngine,
  base: Directory,
  path: string,
  src: string,
  filter: { include?: string[]; exclude?: string[] },
) {
  const out = e.tempDir('dir');
  copyFiltered(base.path, out);
  copyFiltered(src, join(out, path), filter);
  return { t: 'Directory' as const, path: out };
}

async function withFs(
  e: RehearsalEngine,
  ctr: Container,
  hostPath: string,
  dest: string,
  contentsOnly: boolean,
): Promise<Container> {
  const image = needImage(ctr, 'withDirectory/withFile');
  const key = sha256(`${image} ${dest} ${contentHash(hostPath)}`).slice(0, 24);
  const cached = e.opts.cache ? readCache(e, `fs-${key}`) : undefined;
  if (cached && (await imageExists(e, cached.image))) return { ...ctr, image: cached.image };
  const out = await copyIntoImage(e.opts.session, image, contentsOnly ? `${hostPath}/.` : hostPath, dest);
  if (e.opts.cache) writeCache(e, `fs-${key}`, { image: out });
  return { ...ctr, image: out };
}

const OPS: Record<string, Op> = {
  'Query.container': () => emptyContainer,
  'Query.directory': (e) => ({ t: 'Directory', path: e.tempDir('dir') }),
  'Query.host': () => ({ t: 'Host' }),
  'Query.cacheVolume': (_e, _s, a) => ({
    t: 'CacheVolume',
    volume: `kgraph-rh-cache-${String(a.key).replace(/[^A-Za-z0-9_.-]/g, '-')}`,
  }),
  'Query.setSecret': (_e, _s, a) => ({ t: 'Secret', name: String(a.name), value: String(a.plaintext) }),
  'Host.directory': (e, _s, a) => {
    const out = e.tempDir('host');
    copyFiltered(String(a.path), out, { include: strings(a.include), exclude: strings(a.exclude) });
    return { t: 'Directory', path: out };
  },
  'Directory.withDirectory': async (e, self, a) => {
    const src = await asDirectory(e, a.source ?? a.directory);
    return dirWith(e, self as Directory, String(a.path), src.path, {
      include: strings(a.include),
      exclude: strings(a.exclude),
    });
  },
  'Directory.withNewFile': (e, self, a) => {
    const out = e.tempDir('dir');
    copyFiltered((self as Directory).path, out);
    const target = join(out, String(a.path));
    mkdirSync(join(target, '..'), { recursive: true });
    writeFileSync(target, String(a.contents ?? ''), {
      mode: typeof a.permissions === 'number' ? a.permissions : 0o644,
    });
    return { t: 'Directory', path: out };
  },
  'Directory.withNewDirectory': (e, self, a) => {
    const out = e.tempDir('dir');
    copyFiltered((self as Directory).path, out);
    mkdirSync(join(out, String(a.path)), { recursive: true });
    return { t: 'Directory', path: out };
  },
  'Directory.directory': (_e, self, a) => ({ t: 'Directory', path: join((self as Directory).path, String(a.path)) }),
  'Directory.file': (_e, self, a) => ({ t: 'File', path: join((self as Directory).path, String(a.path)) }),
  'Directory.dockerBuild': async (e, self, a) => {
    const dir = (self as Directory).path;
    const iid = join(e.tempDir('build'), 'iid');
    const buildArgs = (Array.isArray(a.buildArgs) ? a.buildArgs : []).flatMap((b) => {
      const { name, value } = b as { name: string; value: string };
      return ['--build-arg', `${name}=${value}`];
    });
    const dockerfile = join(dir, str(a.dockerfile) ?? 'Dockerfile');
    // The Dockerfile's base images: their stand-ins, exact, before the build asks the engine for them.
    const stages = new Set<string>();
    for (const m of readFileSync(dockerfile, 'utf8').matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)) {
      if (!stages.has(m[1]!)) await e.opts.baseImage(m[1]!);
      if (m[2]) stages.add(m[2]);
    }
    e.opts.log(`docker build -f ${str(a.dockerfile) ?? 'Dockerfile'} ${buildArgs.join(' ')}`);
    const res = await e.opts.session.docker(
      [
        'build',
        '--network',
        'host',
        '--progress',
        'plain',
        '-f',
        dockerfile,
        ...buildArgs,
        ...(a.target ? ['--target', String(a.target)] : []),
        '--iidfile',
        iid,
        dir,
      ],
      e.opts.session.onLine ? { onLine: e.opts.session.onLine } : {},
    );
    if (res.code !== 0) fail(`docker build of ${str(a.dockerfile)}`, res);
    const image = readFileSync(iid, 'utf8').trim();
    return { ...emptyContainer, image, base: `dockerBuild ${str(a.dockerfile)}`, workdir: undefined };
  },
  'Container.from': async (e, self, a) => {
    const address = String(a.address);
    const found = await e.opts.baseImage(address);
    if (!found) return { ...asContainer(self), image: null, base: address };
    return {
      ...asContainer(self),
      image: found.id,
      base: address,
      workdir: asContainer(self).workdir ?? found.workdir,
    };
  },
  'Container.withEnvVariable': (_e, self, a) => {
    const ctr = asContainer(self);
    return { ...ctr, env: withPair(ctr.env, String(a.name), String(a.value)) };
  },
  'Container.withWorkdir': (_e, self, a) => ({
    ...asContainer(self),
    workdir: inCtr(asContainer(self), String(a.path)),
  }),
  'Container.withLabel': (_e, self, a) => {
    const ctr = asContainer(self);
    return { ...ctr, labels: withPair(ctr.labels, String(a.name), String(a.value)) };
  },
  'Container.withMountedCache': async (e, self, a) => {
    const ctr = asContainer(self);
    const vol = await e.resolve(a.cache ?? null);
    if (vol.t !== 'CacheVolume') throw new Error('withMountedCache needs a CacheVolume');
    return { ...ctr, mounts: [...ctr.mounts, { kind: 'cache', path: inCtr(ctr, String(a.path)), volume: vol.volume }] };
  },
  'Container.withMountedDirectory': async (e, self, a) => {
    const ctr = asContainer(self);
    const dir = await asDirectory(e, a.source);
    return { ...ctr, mounts: [...ctr.mounts, { kind: 'directory', path: inCtr(ctr, String(a.path)), host: dir.path }] };
  },
  'Container.withMountedFile': async (e, self, a) => {
    const ctr = asContainer(self);
    const file = await asFile(e, a.source);
    return { ...ctr, mounts: [...ctr.mounts, { kind: 'file', path: inCtr(ctr, String(a.path)), host: file.path }] };
  },
  'Container.withMountedSecret': async (e, self, a) => {
    const ctr = asContainer(self);
    const secret = await asSecret(e, a.source);
    return { ...ctr, mounts: [...ctr.mounts, { kind: 'secret', path: inCtr(ctr, String(a.path)), secret }] };
  },
  'Container.withSecretVariable': async (e, self, a) => {
    const ctr = asContainer(self);
    return { ...ctr, secretEnv: withPair(ctr.secretEnv, String(a.name), await asSecret(e, a.secret)) };
  },
  'Container.withRegistryAuth': async (e, self, a) => {
    await asSecret(e, a.secret); // resolved (so a bad id fails here), never used: nothing is pulled or pushed
    return self;
  },
  'Container.withDirectory': async (e, self, a) => {
    const ctr = asContainer(self);
    const dir = await asDirectory(e, a.source ?? a.directory);
    let src = dir.path;
    if (strings(a.include).length + strings(a.exclude).length > 0) {
      src = e.tempDir('dir');
      copyFiltered(dir.path, src, { include: strings(a.include), exclude: strings(a.exclude) });
    }
    return withFs(e, ctr, src, inCtr(ctr, String(a.path)), true);
  },
  'Container.withFile': async (e, self, a) => {
    const ctr = asContainer(self);
    const file = await asFile(e, a.source);
    return withFs(e, ctr, file.path, inCtr(ctr, String(a.path)), false);
  },
  'Container.withExposedPort': (_e, self, a) => ({
    ...asContainer(self),
    ports: [...asContainer(self).ports, Number(a.port)],
  }),
  'Container.withDockerHealthcheck': (_e, self, a) => ({
    ...asContainer(self),
    healthcheck: {
      args: strings(a.args),
      intervalMs: durationMs(str(a.interval), 30_000),
      startPeriodMs: durationMs(str(a.startPeriod), 0),
      retries: typeof a.retries === 'number' ? a.retries : 3,
    },
  }),
  'Container.withDefaultTerminalCmd': (_e, self, a) => ({ ...asContainer(self), terminalCmd: strings(a.args) }),
  'Container.asService': (e, self, a) => ({
    t: 'Service',
    key: sha256(e.canonical([]) + JSON.stringify([self, a])),
    container: asContainer(self),
    args: a.args === undefined ? undefined : strings(a.args),
    useEntrypoint: a.useEntrypoint === true,
  }),
  'Container.withServiceBinding': async (e, self, a) => {
    const ctr = asContainer(self);
    const svc = await e.resolve(a.service ?? null);
    if (svc.t !== 'Service') throw new Error('withServiceBinding needs a Service');
    return { ...ctr, services: withPair(ctr.services, String(a.alias), svc) };
  },
  'Container.withExec': (e, self, a) => runExec(e, asContainer(self), strings(a.args), str(a.expect) ?? 'SUCCESS'),
  'Container.terminal': async (e, self, a) => {
    // What `dagger call ... terminal` opens, run with its input closed: the shell must exist and start.
    const ctr = asContainer(self);
    const cmd = strings(a.cmd).length > 0 ? strings(a.cmd) : (ctr.terminalCmd ?? ['sh']);
    await runExec(e, ctr, cmd, 'SUCCESS');
    return ctr;
  },
  'Container.file': async (e, self, a) => {
    const ctr = asContainer(self);
    return {
      t: 'File',
      path: await copyOutOfImage(e.opts.session, needImage(ctr, 'file'), inCtr(ctr, String(a.path))),
    };
  },
  'Container.directory': async (e, self, a) => {
    const ctr = asContainer(self);
    return {
      t: 'Directory',
      path: await copyOutOfImage(e.opts.session, needImage(ctr, 'directory'), inCtr(ctr, String(a.path))),
    };
  },
  'Container.asTarball': async (e, self) => ({
    t: 'File',
    path: await saveTarball(e.opts.session, needImage(asContainer(self), 'asTarball')),
  }),
  'Container.rootfs': async (e, self) => ({
    t: 'Directory',
    path: await copyOutOfImage(e.opts.session, needImage(asContainer(self), 'rootfs'), '/'),
  }),
};

interface CacheEntry {
  readonly image: string;
  readonly exitCode?: number;
  readonly stdout?: string;
  readonly stderr?: string;
}
function readCache(e: RehearsalEngine, key: string): CacheEntry | undefined {
  try {
    return JSON.parse(readFileSync(join(e.opts.cacheDir, `${key}.json`), 'utf8')) as CacheEntry;
  } catch {
    return undefined;
  }
}
function writeCache(e: RehearsalEngine, key: string, entry: CacheEntry): void {
  mkdirSync(e.opts.cacheDir, { recursive: true });
  writeFileSync(join(e.opts.cacheDir, `${key}.json`), JSON.stringify(entry));
}
async function imageExists(e: RehearsalEngine, image: string): Promise<boolean> {
  return (await e.opts.session.docker(['image', 'inspect', '--format', '{{.Id}}', image])).code === 0;
}

/** The docker mount arguments for a container's mounts; secret files are written 0400 and mounted read-only. */
function mountArgs(e: RehearsalEngine, ctr: Container): string[] {
  return ctr.mounts.flatMap((m) => {
    if (m.kind === 'cache') return ['-v', `${m.volume}:${m.path}`];
    if (m.kind === 'secret') {
      const file = join(e.tempDir('secret'), 'secret');
      writeFileSync(file, m.secret.value, { mode: 0o400 });
      return ['--mount', `type=bind,src=${file},dst=${m.path},readonly`];
    }
    return ['--mount', `type=bind,src=${m.host},dst=${m.path}`];
  });
}

/** Starts every bound service (and theirs); returns `alias -> address` for --add-host. */
export async function boundHosts(e: RehearsalEngine, ctr: Container): Promise<[string, string][]> {
  const hosts: [string, string][] = [];
  for (const [alias, svc] of ctr.services) hosts.push([alias, await e.opts.services(e, svc)]);
  return hosts;
}

export function runSpecOf(e: RehearsalEngine, ctr: Container, argv: readonly string[], hosts: [string, string][]) {
  return {
    image: needImage(ctr, 'run'),
    argv,
    ...(ctr.workdir ? { workdir: ctr.workdir } : {}),
    env: ctr.env,
    secretEnv: ctr.secretEnv.map(([k, s]) => [k, s.value] as const),
    mounts: mountArgs(e, ctr),
    hosts,
  };
}

async function runExec(
  e: RehearsalEngine,
  ctr: Container,
  argv: readonly string[],
  expect: string,
): Promise<Container> {
  const stop = e.opts.stopAt?.({ kind: 'exec', base: ctr.base, argv });
  if (stop) {
    // Everything the exec would see is made first (bound services, mounted files), then the rehearsal stops.
    await boundHosts(e, ctr);
    throw new StopReached(stop);
  }
  if (!ctr.image)
    throw new Error(`image ${ctr.base} is not in the local engine and has no stand-in (nothing is pulled here)`);
  const image = ctr.image;
  const hosts = await boundHosts(e, ctr);
  const secretFree = ctr.secretEnv.length === 0 && !ctr.mounts.some((m) => m.kind === 'secret');
  const key = sha256(
    JSON.stringify([
      image,
      argv,
      ctr.env,
      ctr.workdir,
      hosts.map(([a]) => a),
      ctr.services.map(([, s]) => s.key),
      expect,
    ]) +
      ctr.mounts
        .map((m) => (m.kind === 'cache' ? m.volume : m.kind === 'secret' ? m.path : contentHash(m.host)))
        .join(','),
  ).slice(0, 24);
  const cached = e.opts.cache && secretFree ? readCache(e, `exec-${key}`) : undefined;
  let result: CacheEntry;
  if (cached && (await imageExists(e, cached.image))) {
    e.opts.log(`(cached) ${argv.join(' ')}`);
    result = cached;
  } else {
    e.opts.log(`exec ${argv.join(' ')}`);
    result = await execInContainer(e.opts.session, runSpecOf(e, ctr, argv, hosts));
    if (e.opts.cache && secretFree && result.exitCode === 0) writeCache(e, `exec-${key}`, result);
  }
  const exitCode = result.exitCode ?? -1;
  if (exitCode !== 0 && expect !== 'ANY') {
    const tail = (s: string | undefined) => (s ?? '').trim().split('\n').slice(-25).join('\n');
    throw new Error(
      `process "${argv.join(' ')}" did not complete successfully: exit code: ${exitCode}\n\nStdout:\n${tail(result.stdout)}\n\nStderr:\n${tail(result.stderr)}`,
    );
  }
  return {
    ...ctr,
    image: result.image,
    last: { argv, exitCode, stdout: result.stdout ?? '', stderr: result.stderr ?? '' },
  };
}
