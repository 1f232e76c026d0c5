import { resolve } from 'node:path';
import type { Command } from 'commander';
import { FailedError, UsageError } from '../../definitions/errors.js';
import { isPass } from '../../definitions/verdict.js';
import { table } from '../../platform/report/markdown.js';
import { appendJobSummary } from '../../platform/report/summary.js';
import { writeJsonReport } from '../../verify/runner/report.js';
import { SEVERITIES, type Severity } from '../../verify/scan/audit.js';
import { DEFAULT_IMAGE_REPORT } from '../../verify/image/step.js';
import {
  DEFAULT_ALLOWLIST,
  DEFAULT_DOCKERFILE,
  DEFAULT_SCAN_REPORT,
  runScan,
  scanVerdict,
  type ScanReport,
} from '../../verify/scan/index.js';
import { holdsBack, type ScanCheck } from '../../verify/scan/check.js';
import { AllowlistError } from '../../verify/scan/secrets.js';
import { writeLine, type CliIo } from '../io.js';
import { imageChecks } from './image-scan.js';

const DEFAULT_SBOM = '.reports/sbom.cdx.json';
const truthy = (v: string | undefined) => v === '1' || v === 'true';

interface ScanCliOptions {
  allowOffline?: boolean;
  allowlist: string;
  dockerfile: string;
  auditLevel: string;
  json?: string;
  image?: string;
  sbom: string;
}

function auditLevelOf(level: string): Severity {
  if (!(SEVERITIES as readonly string[]).includes(level))
    throw new UsageError(`--audit-level must be one of ${SEVERITIES.join(', ')}, got "${level}"`);
  return level as Severity;
}

/** The tree's checks (secrets, Dockerfile, audit); a bad allowlist is bad usage naming the file. */
async function scanTree(opts: ScanCliOptions, auditLevel: Severity, allowOffline: boolean, io: CliIo) {
  try {
    return await runScan({
      root: io.cwd,
      allowlistPath: opts.allowlist,
      dockerfilePath: opts.dockerfile,
      allowOffline,
      auditLevel,
      progress: (line) => writeLine(io.stderr, `scan: ${line}`),
    });
  } catch (err) {
    if (err instanceof AllowlistError) throw new UsageError(`${opts.allowlist}: ${err.message}`);
    throw err;
  }
}

/** One line per check on stdout, the JSON report for the checklist, a table in the job summary. */
async function publishScan(report: ScanReport, jsonPath: string, io: CliIo): Promise<void> {
  const w = Math.max(...report.checks.map((c) => c.name.length));
  const detail = (c: ScanCheck) => c.reasons.join('; ');
  for (const c of report.checks) writeLine(io.stdout, `${c.name.padEnd(w)}  ${c.outcome.padEnd(7)}  ${detail(c)}`);
  await writeJsonReport(resolve(io.cwd, jsonPath), report);
  await appendJobSummary(
    `### kgraph-ci scan: ${isPass(report) ? 'passed' : 'failed'}\n\n${table(
      ['check', 'result', 'detail'],
      report.checks.map((c) => [c.name, c.outcome, detail(c)]),
    )}`,
    io.env,
  );
}

async function runScanCommand(opts: ScanCliOptions, io: CliIo): Promise<void> {
  const jsonPath = opts.json ?? (io.env.KGRAPH_SCAN_REPORT || DEFAULT_SCAN_REPORT);
  const auditLevel = auditLevelOf(opts.auditLevel);
  const allowOffline = opts.allowOffline === true || truthy(io.env.KGRAPH_SCAN_ALLOW_OFFLINE);
  const tree = await scanTree(opts, auditLevel, allowOffline, io);
  const image = await imageChecks({
    io,
    image: opts.image,
    sbomPath: resolve(io.cwd, opts.sbom),
    allowlist: opts.allowlist,
    allowOffline,
    auditLevel,
  });
  const checks = [...tree.checks, ...image];
  const report: ScanReport = { ...tree, ...scanVerdict(checks), checks };
  await publishScan(report, jsonPath, io);
  if (!isPass(report))
    throw new FailedError(
      `scan failed: ${report.checks
        .filter(holdsBack)
        .map((c) => c.name)
        .join(', ')}`,
    );
}

export function register(program: Command, io: CliIo): void {
  program
    .command('scan')
    .description(
      'Secret scan of the tree, Dockerfile policy and dependency audit (fails closed when the audit cannot run)',
    )
    .option(
      '--allow-offline',
      'skip the dependency audit when the advisory service is unreachable (also KGRAPH_SCAN_ALLOW_OFFLINE=1)',
    )
    .option('--allowlist <file>', 'secret-scan allowlist', DEFAULT_ALLOWLIST)
    .option('--dockerfile <file>', 'Dockerfile to check', DEFAULT_DOCKERFILE)
    .option('--audit-level <level>', `lowest failing severity (${SEVERITIES.join(', ')})`, 'high')
    .option('--image <ref>', `also scan this image (default: the one in ${DEFAULT_IMAGE_REPORT}, when built)`)
    .option('--sbom <file>', 'where the image SBOM (CycloneDX JSON) goes', DEFAULT_SBOM)
    .option(
      '--json <file>',
      `write the scan report here (checklist reads it; default $KGRAPH_SCAN_REPORT or ${DEFAULT_SCAN_REPORT})`,
    )
    .action((opts: ScanCliOptions) => runScanCommand(opts, io));
}
