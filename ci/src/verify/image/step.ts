/**
 * The `build` step: the TypeScript always (app/dist, which host steps serve), then the image when a
 * container engine answers. Without one it says plainly that no image was built and why.
 */
import type { ImageSpec } from '../../definitions/steps.js';
import { streamProcess } from '../../platform/process/stream.js';
import { describeBase, STANDIN_SCRIPT, type BaseImage } from './base.js';
import { isPass, type Verdict } from '../../definitions/verdict.js';
import { buildImage, checkImageSize, type BuiltImage } from './build.js';
import { dockerClientPath, engineStatus, type Docker } from './docker.js';

export const DEFAULT_IMAGE_REPORT = '.reports/image.json';

export type ImageReport =
  | { readonly version: 1; readonly built: false; readonly reason: string; readonly finishedAt: string }
  | ({
      readonly version: 1;
      readonly built: true;
      readonly engine: string;
      readonly standinBase: boolean;
      /** The size budgets' verdict (checkImageSize). */
      readonly size: Verdict;
      readonly finishedAt: string;
    } & BuiltImage);

/** A command with its output passed on line by line; resolves with its exit code (null: killed or not started). */
export async function runStreaming(
  argv: readonly string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; log: (line: string) => void },
): Promise<number | null> {
  const r = await streamProcess({ argv, cwd: opts.cwd, env: opts.env, onLine: (_stream, line) => opts.log(line) }).done;
  if (r.spawnError) opts.log(`could not start ${argv[0]}: ${r.spawnError}`);
  return r.exitCode;
}

/** The stand-in maker for `ensureBaseImage`: ci/scripts/standin-base.sh with the same docker client. */
export function standinMaker(env: NodeJS.ProcessEnv, log: (line: string) => void): (name: string) => Promise<void> {
  return async (name) => {
    const code = await runStreaming(['bash', STANDIN_SCRIPT, name], {
      cwd: '/',
      env: { ...env, DOCKER: dockerClientPath(env) },
      log,
    });
    if (code !== 0) throw new Error(`ci/scripts/standin-base.sh ${name} failed (exit ${code})`);
  };
}

export interface BuildStepOptions {
  readonly root: string;
  readonly spec: ImageSpec;
  readonly params: Readonly<Record<string, string>>;
  readonly docker: Docker;
  readonly makeStandin: (name: string) => Promise<void>;
  /** Compiles the TypeScript; resolves with the exit code. */
  readonly buildTypescript: () => Promise<number | null>;
  readonly log: (line: string) => void;
  readonly tag?: string;
}

export async function runBuildStep(opts: BuildStepOptions): Promise<ImageReport> {
  const code = await opts.buildTypescript();
  if (code !== 0) throw new Error(`the TypeScript build failed (exit ${code})`);
  const finishedAt = () => new Date().toISOString();
  const engine = await engineStatus(opts.docker);
  if (!engine.available) return { version: 1, built: false, reason: engine.reason, finishedAt: finishedAt() };
  const built = await buildImage(
    { root: opts.root, spec: opts.spec, params: opts.params, ...(opts.tag ? { tag: opts.tag } : {}) },
    { docker: opts.docker, makeStandin: opts.makeStandin, log: opts.log },
  );
  return {
    version: 1,
    built: true,
    engine: engine.version,
    standinBase: built.bases.some((b) => b.source === 'standin'),
    size: checkImageSize(built, opts.spec),
    finishedAt: finishedAt(),
    ...built,
  };
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

/** The facts the run report shows for the build step. */
export function imageFacts(report: ImageReport): Record<string, string> {
  if (!report.built) return { image: 'not built', why: report.reason };
  const base = report.bases.find((b) => b.name === report.finalBase);
  return {
    image: report.tag,
    id: report.id,
    size: `${mb(report.sizeBytes)} (${mb(report.sizeBytes - report.baseSizeBytes)} over the base)`,
    base: base ? describeBase(base) : report.finalBase,
  };
}

/** What the step prints at the end, plainly. */
export function imageSummary(report: ImageReport): string[] {
  if (!report.built) return [`no image was built: ${report.reason}; built the TypeScript only (app/dist)`];
  const lines = Object.entries(imageFacts(report)).map(([k, v]) => `${k}: ${v}`);
  lines.push(`size budget: ${isPass(report.size) ? 'ok' : 'OVER'}: ${report.size.reasons.join('; ')}`);
  const standins = report.bases.filter((b: BaseImage) => b.source === 'standin');
  if (standins.length > 0)
    lines.push(`NOTE: built on a stand-in base, not the pinned image: ${standins.map(describeBase).join('; ')}`);
  return lines;
}
