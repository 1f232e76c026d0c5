/**
 * Builds the service image from the step table's image spec (Dockerfile, context, build arguments),
 * with its base images made available first (pinned or stand-in), and measures what was built.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ImageSpec } from '../../definitions/steps.js';
import { baseImagesOf, ensureBaseImage, type BaseImage } from './base.js';
import { dockerFailure, type Docker } from './docker.js';
import { parseDockerfile } from '../scan/dockerfile.js';
import { UsageError } from '../../definitions/errors.js';
import { failed, passed, type Verdict } from '../../definitions/verdict.js';

export interface ImageBuildRequest {
  /** The repository root. */
  readonly root: string;
  readonly spec: ImageSpec;
  /** Values for `${param}` in the spec's build arguments. */
  readonly params: Readonly<Record<string, string>>;
  /** Defaults to `<repository>:<env param or "local">`. */
  readonly tag?: string;
  /** Ignore the layer cache (a cold build, base images aside). */
  readonly noCache?: boolean;
}

export interface BuiltImage {
  readonly tag: string;
  /** The image id: the sha256 digest of its config (no registry digest exists before a push). */
  readonly id: string;
  readonly sizeBytes: number;
  /** The base of the final stage, and its size: the budget counts what the image adds to it. */
  readonly finalBase: string;
  readonly baseSizeBytes: number;
  readonly bases: readonly BaseImage[];
  readonly dockerfile: string;
  readonly context: string;
  readonly buildArgs: Readonly<Record<string, string>>;
  readonly durationMs: number;
}

export function resolveBuildArgs(spec: ImageSpec, params: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(spec.buildArgs).map(([k, v]) => [
      k,
      v.replace(/\$\{(\w+)\}/g, (_, p: string) => {
        const value = params[p];
        if (value === undefined || value === '') throw new UsageError(`image build argument ${k} needs --${p}`);
        return value;
      }),
    ]),
  );
}

/** The image the last stage starts from, following stage names (`FROM deps AS build` ...). */
export function finalBaseOf(dockerfileText: string): string | undefined {
  const froms = parseDockerfile(dockerfileText)
    .filter((i) => i.keyword === 'FROM')
    .map((i) => {
      const words = i.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      return { ref: words[0] ?? '', alias: words[1]?.toUpperCase() === 'AS' ? words[2]?.toLowerCase() : undefined };
    });
  let ref = froms.at(-1)?.ref;
  for (let hops = 0; ref && hops < froms.length; hops++) {
    const stage = froms.find((f) => f.alias === ref!.toLowerCase());
    if (!stage) return ref === 'scratch' ? undefined : ref;
    ref = stage.ref;
  }
  return undefined;
}

/** The `docker build` argv for a spec: the same Dockerfile, context and build arguments Dagger gets. */
export function buildArgv(
  spec: ImageSpec,
  buildArgs: Readonly<Record<string, string>>,
  tag: string,
  iidFile: string,
): string[] {
  return [
    'build',
    // Builds reach the npm registry through the host's network: no bridge on these machines.
    '--network',
    'host',
    '--progress',
    'plain',
    '-f',
    join(spec.context, spec.dockerfile),
    ...Object.entries(buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
    '--iidfile',
    iidFile,
    '-t',
    tag,
    spec.context,
  ];
}

export async function imageSize(docker: Docker, ref: string): Promise<number> {
  const res = await docker(['image', 'inspect', '--format', '{{.Size}}', ref], { timeoutMs: 30_000 });
  const n = Number(res.stdout.trim());
  if (res.code !== 0 || !Number.isFinite(n)) throw new Error(dockerFailure(`docker image inspect ${ref}`, res));
  return n;
}

export interface BuildDeps {
  readonly docker: Docker;
  readonly makeStandin: (name: string) => Promise<void>;
  readonly log?: (line: string) => void;
  readonly timeoutMs?: number;
}

export async function buildImage(req: ImageBuildRequest, deps: BuildDeps): Promise<BuiltImage> {
  const log = deps.log ?? (() => undefined);
  const started = Date.now();
  const buildArgs = resolveBuildArgs(req.spec, req.params);
  const tag = req.tag ?? `${req.spec.repository}:${req.params.env ?? 'local'}`;
  const text = await readFile(resolve(req.root, req.spec.context, req.spec.dockerfile), 'utf8');
  const bases: BaseImage[] = [];
  for (const name of baseImagesOf(text))
    bases.push(await ensureBaseImage(name, { docker: deps.docker, makeStandin: deps.makeStandin, log }));
  const finalBase = finalBaseOf(text);
  if (!finalBase) throw new Error(`${req.spec.dockerfile}: the final stage has no base image`);

  const dir = await mkdtemp(join(tmpdir(), 'kgraph-image-'));
  try {
    const iidFile = join(dir, 'iid');
    const argv = buildArgv(req.spec, buildArgs, tag, iidFile);
    if (req.noCache) argv.splice(1, 0, '--no-cache');
    log(`docker ${argv.join(' ')}`);
    const tail: string[] = [];
    const res = await deps.docker(argv, {
      timeoutMs: deps.timeoutMs ?? 900_000,
      onLine: (line) => {
        tail.push(line);
        if (tail.length > 40) tail.shift();
        log(line);
      },
      // The context and -f are relative to the repository root.
      cwd: req.root,
    });
    if (res.code !== 0) throw new Error(`${dockerFailure('docker build', res)}\n${tail.slice(-15).join('\n')}`);
    const id = (await readFile(iidFile, 'utf8')).trim();
    const [sizeBytes, baseSizeBytes] = await Promise.all([
      imageSize(deps.docker, id),
      imageSize(deps.docker, finalBase),
    ]);
    return {
      tag,
      id,
      sizeBytes,
      finalBase,
      baseSizeBytes,
      bases,
      dockerfile: req.spec.dockerfile,
      context: req.spec.context,
      buildArgs,
      durationMs: Date.now() - started,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

/**
 * The size budgets of the step table, as a pure decision over what was measured. What the image adds to
 * its base is the image's own budget. The total budget is judged relative to the base: when the base
 * alone is over it (a stand-in base, a heavier pinned base), the total says so, naming the base and its
 * size, and only what the image adds can fail the build; every message names the base's size.
 */
export function checkImageSize(
  image: Pick<BuiltImage, 'sizeBytes' | 'baseSizeBytes'> & { readonly finalBase?: string },
  spec: Pick<ImageSpec, 'maxBytes' | 'maxBytesOverBase'>,
): Verdict {
  const over = image.sizeBytes - image.baseSizeBytes;
  const base = `the base${image.finalBase ? ` ${image.finalBase}` : ''} is ${mb(image.baseSizeBytes)}`;
  const added = `the image adds ${mb(over)} (budget ${mb(spec.maxBytesOverBase)})`;
  const problems: string[] = [];
  if (over > spec.maxBytesOverBase)
    problems.push(`${mb(over)} over the base is over the budget of ${mb(spec.maxBytesOverBase)} (${base})`);
  const baseOverTotal = image.baseSizeBytes > spec.maxBytes;
  if (image.sizeBytes > spec.maxBytes && !baseOverTotal)
    problems.push(`${mb(image.sizeBytes)} is over the budget of ${mb(spec.maxBytes)} (${base}; ${added})`);
  if (problems.length > 0) return failed(...problems);
  const total = baseOverTotal
    ? `${mb(image.sizeBytes)} in all, over the ${mb(spec.maxBytes)} budget because ${base} alone`
    : `${mb(image.sizeBytes)} of ${mb(spec.maxBytes)}; ${base}`;
  return passed(`${total}; ${added}`);
}
