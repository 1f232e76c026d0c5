/**
 * Scanning the built image rather than the tree: the project's secret scanner over every layer (a
 * secret deleted in a later layer is still shipped), the npm packages of the merged filesystem as a
 * CycloneDX SBOM, and those packages audited where the advisory service answers.
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { failed, passed } from '../../definitions/verdict.js';
import { interpretAudit, type AuditRun, type Severity } from '../scan/audit.js';
import { bulkAudit, type AuditPackage } from '../scan/bulk-audit.js';
import type { ScanCheck } from '../scan/index.js';
import { sbomOfDirectory, type NpmPackage } from '../scan/sbom.js';
import { isAllowed, isScannable, parseAllowlist, scanText, type SecretFinding } from '../scan/secrets.js';
import { exportImageFilesystem, exportImageLayers } from './container.js';
import type { Docker } from './docker.js';

/** Regular files under `root`, relative and `/`-separated; symlinks are not followed. */
export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) await walk(path);
      else if (e.isFile()) out.push(relative(root, path).split(sep).join('/'));
    }
  };
  await walk(root);
  return out.sort();
}

export interface LayerFinding extends SecretFinding {
  readonly layer: number;
}

/** Secret findings in every layer; paths are the image's (`/app/...`), each finding names its layer. */
export async function scanLayersForSecrets(
  layers: readonly { index: number; dir: string }[],
  allowlistText: string | undefined,
): Promise<{ files: number; findings: LayerFinding[]; allowed: number }> {
  const allow = parseAllowlist(allowlistText ?? '');
  let files = 0;
  let allowed = 0;
  const findings: LayerFinding[] = [];
  for (const layer of layers) {
    for (const f of await listFiles(layer.dir)) {
      // Whiteouts mark deletions; they have no content.
      if (f.split('/').pop()!.startsWith('.wh.')) continue;
      files++;
      const st = await lstat(join(layer.dir, f));
      if (st.size > 2 * 1024 * 1024) continue; // same limit as the tree scan: binaries and blobs, not config
      const buf = await readFile(join(layer.dir, f));
      if (!isScannable(buf)) continue;
      for (const finding of scanText(`/${f}`, buf.toString('utf8'))) {
        if (isAllowed(finding, allow)) allowed++;
        else findings.push({ ...finding, layer: layer.index });
      }
    }
  }
  return { files, findings, allowed };
}

export interface ImageScanOptions {
  readonly docker: Docker;
  readonly image: string;
  readonly allowlistText?: string;
  /** Where the SBOM (CycloneDX JSON) is written. */
  readonly sbomPath: string;
  readonly allowOffline: boolean;
  readonly auditLevel: Severity;
  /** Facts recorded in the SBOM's subject (digest, base, stand-in). */
  readonly properties?: Readonly<Record<string, string>>;
  readonly audit?: (packages: readonly AuditPackage[]) => Promise<AuditRun>;
  readonly progress?: (line: string) => void;
}

export interface ImageScanResult {
  readonly checks: ScanCheck[];
  readonly findings: LayerFinding[];
  readonly packages: readonly NpmPackage[];
}

export async function scanImage(opts: ImageScanOptions): Promise<ImageScanResult> {
  const say = opts.progress ?? (() => undefined);
  const work = await mkdtemp(join(tmpdir(), 'kgraph-image-scan-'));
  try {
    say(`image: saving the layers of ${opts.image}`);
    const layers = await exportImageLayers(opts.docker, opts.image, join(work, 'layers'));
    say(`image: scanning ${layers.length} layers for secrets`);
    const secrets = await scanLayersForSecrets(layers, opts.allowlistText);
    await rm(join(work, 'layers'), { recursive: true, force: true });
    const checks: ScanCheck[] = [
      secrets.findings.length === 0
        ? {
            name: 'image:secrets',
            ...passed(
              `${layers.length} layers, ${secrets.files} files, no findings${secrets.allowed ? ` (${secrets.allowed} allowlisted)` : ''}`,
            ),
          }
        : {
            name: 'image:secrets',
            ...failed(
              `${secrets.findings.length} finding(s): ${secrets.findings
                .slice(0, 10)
                .map((f) => `layer ${f.layer} ${f.path}:${f.line} ${f.rule} fingerprint:${f.fingerprint}`)
                .join('; ')}${secrets.findings.length > 10 ? '; …' : ''}`,
            ),
          },
    ];

    say('image: exporting the filesystem for the SBOM');
    const fs = join(work, 'fs');
    await exportImageFilesystem(opts.docker, opts.image, fs);
    const sbom = await sbomOfDirectory(fs, {
      name: 'kgraph-mcp',
      version: opts.image,
      type: 'container',
      ...(opts.properties ? { properties: opts.properties } : {}),
    });
    await mkdir(dirname(opts.sbomPath), { recursive: true });
    await writeFile(opts.sbomPath, sbom.json, 'utf8');
    checks.push(
      sbom.packages.length > 0
        ? {
            name: 'image:sbom',
            ...passed(`${sbom.packages.length} npm packages, CycloneDX 1.6 in ${opts.sbomPath}`),
          }
        : {
            name: 'image:sbom',
            ...failed('no npm packages found in the image: the SBOM would be empty'),
          },
    );

    say(`image: auditing ${sbom.packages.length} packages`);
    const run = await (opts.audit ?? ((p) => bulkAudit(p)))(sbom.packages);
    const audit = interpretAudit(run, { allowOffline: opts.allowOffline, level: opts.auditLevel });
    checks.push({ name: 'image:audit', outcome: audit.outcome, reasons: audit.reasons });
    return { checks, findings: secrets.findings, packages: sbom.packages };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
