/** The image part of `kgraph-ci scan`: which image (given, or the build step's), and its checks. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describeBase, inspectImage } from '../../verify/image/base.js';
import { dockerCli, engineStatus } from '../../verify/image/docker.js';
import { scanImage } from '../../verify/image/scan.js';
import { DEFAULT_IMAGE_REPORT, type ImageReport } from '../../verify/image/step.js';
import type { Severity } from '../../verify/scan/audit.js';
import { failed } from '../../definitions/verdict.js';
import { skipped, type CheckAnswer, type ScanCheck } from '../../verify/scan/check.js';
import { writeLine, type CliIo } from '../io.js';

async function readImageReport(path: string): Promise<ImageReport | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ImageReport;
  } catch {
    return undefined;
  }
}

interface ImageChecksOptions {
  io: CliIo;
  image?: string | undefined;
  sbomPath: string;
  allowlist: string;
  allowOffline: boolean;
  auditLevel: Severity;
}

/** The image to scan with the SBOM properties that describe it, or the one check that says why there is none. */
type ImageTarget = { ref: string; properties: Record<string, string> } | { check: ScanCheck };

const noImage = (answer: CheckAnswer): { check: ScanCheck } => ({ check: { name: 'image', ...answer } });

/** --image as given, else the build step's report: its image when built and still in this engine. */
async function imageTarget(io: CliIo, image: string | undefined): Promise<ImageTarget> {
  if (image) return { ref: image, properties: {} };
  const path = resolve(io.cwd, io.env.KGRAPH_IMAGE_REPORT || DEFAULT_IMAGE_REPORT);
  const report = await readImageReport(path);
  if (!report)
    return noImage(
      skipped(`no image scanned: no image report at ${path} (run kgraph-ci image build, or pass --image)`),
    );
  if (!report.built) return noImage(skipped(`no image scanned: no image was built (${report.reason})`));
  // A report outlives the image it names (an engine pruned, another machine's .reports): say so plainly.
  if (!(await inspectImage(dockerCli(io.env), report.id)))
    return noImage(
      failed(
        `${path} names image ${report.tag} (${report.id.slice(0, 19)}, built ${report.finishedAt}), which this engine no longer has: rebuild it (kgraph-ci run build) or pass --image`,
      ),
    );
  const properties: Record<string, string> = { 'kgraph:image:tag': report.tag };
  for (const b of report.bases) properties[`kgraph:base:${b.name}`] = describeBase(b);
  return { ref: report.id, properties };
}

/** The allowlist's text when it can be read; the image scan runs without one otherwise. */
async function readAllowlist(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * No image means a visible `skipped` check with the reason (the prod checklist accepts no skipped
 * check); an image that cannot be read is a failure.
 */
export async function imageChecks(opts: ImageChecksOptions): Promise<ScanCheck[]> {
  const { io } = opts;
  const target = await imageTarget(io, opts.image);
  if ('check' in target) return [target.check];
  const { ref, properties } = target;
  const docker = dockerCli(io.env);
  const engine = await engineStatus(docker);
  if (!engine.available) return [{ name: 'image', ...failed(`cannot scan image ${ref}: ${engine.reason}`) }];
  const allowlistText = await readAllowlist(resolve(io.cwd, opts.allowlist));
  try {
    const result = await scanImage({
      docker,
      image: ref,
      ...(allowlistText !== undefined ? { allowlistText } : {}),
      sbomPath: opts.sbomPath,
      allowOffline: opts.allowOffline,
      auditLevel: opts.auditLevel,
      properties,
      progress: (line) => writeLine(io.stderr, `scan: ${line}`),
    });
    return result.checks;
  } catch (err) {
    return [{ name: 'image', ...failed(`cannot scan image ${ref}: ${(err as Error).message.split('\n')[0]}`) }];
  }
}
