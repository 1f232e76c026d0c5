/**
 * The host scan: secrets in the tree, the Dockerfile policy and a dependency audit, combined into one
 * report. I/O (listing and reading files, npm audit) is injected; the decisions are in the modules.
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runChecked } from '../../platform/process/run.js';
import { checkDockerfile } from './dockerfile.js';
import { interpretAudit, npmAudit, type AuditRun, type Severity } from './audit.js';
import { isAllowed, isScannable, parseAllowlist, scanText, type SecretFinding } from './secrets.js';
import { failed, passed, type Verdict } from '../../definitions/verdict.js';
import { holdsBack, type ScanCheck } from './check.js';
import { walkTree } from './tree.js';

export const DEFAULT_ALLOWLIST = '.kgraph-scan-allowlist';
export const DEFAULT_DOCKERFILE = 'app/Dockerfile';
export const DEFAULT_SCAN_REPORT = '.reports/scan.json';

export type { ScanCheck } from './check.js';

/** The scan's verdict (`scanVerdict` of its checks) with the checks and the secrets found. */
export interface ScanReport extends Verdict {
  readonly version: 1;
  readonly finishedAt: string;
  readonly checks: readonly ScanCheck[];
  readonly secrets: readonly SecretFinding[];
}

export interface ScanOptions {
  readonly root: string;
  readonly allowlistPath?: string;
  readonly dockerfilePath?: string;
  readonly allowOffline?: boolean;
  readonly auditLevel?: Severity;
  readonly listFiles?: (root: string) => Promise<string[]>;
  readonly audit?: (root: string) => Promise<AuditRun>;
  readonly progress?: (line: string) => void;
}

/** Tracked and untracked-but-not-ignored files, so .gitignore'd build output and node_modules stay out. */
async function gitFiles(root: string): Promise<string[]> {
  const { stdout } = await runChecked({
    argv: ['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    cwd: root,
  });
  return [...new Set(stdout.split('\0').filter(Boolean))];
}

/**
 * git's listing in a checkout; without .git (a worktree's .git file counts), the tree walked with the same
 * .gitignore rules, so the scan works on the Dagger module's source, which leaves the history out.
 */
async function listTree(root: string, say: (line: string) => void): Promise<string[]> {
  const checkout = await access(join(root, '.git')).then(
    () => true,
    () => false,
  );
  if (checkout) return gitFiles(root);
  say('secrets: no .git here, walking the tree with its .gitignore rules');
  return walkTree(root);
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function scanSecrets(root: string, files: readonly string[], allowlistText: string | undefined) {
  const allow = parseAllowlist(allowlistText ?? '');
  const all: SecretFinding[] = [];
  for (const f of files) {
    let buf: Buffer;
    try {
      buf = await readFile(join(root, f));
    } catch {
      continue; // deleted since listing, or a directory (submodule)
    }
    if (isScannable(buf)) all.push(...scanText(f, buf.toString('utf8')));
  }
  const findings = all.filter((x) => !isAllowed(x, allow));
  return { findings, allowed: all.length - findings.length };
}

/**
 * Failed when any check failed, each failing check a reason; else passed. A skipped check is no judgement
 * either way: whether a skip is acceptable is the checklist's call per environment (its `strict`).
 */
export function scanVerdict(checks: readonly ScanCheck[]): Verdict {
  const failing = checks.filter(holdsBack);
  if (failing.length > 0) return failed(...failing.map((c) => `${c.name}: ${c.reasons.join('; ')}`));
  const skipped = checks.filter((c) => c.outcome === 'skipped').map((c) => c.name);
  const n = checks.length - skipped.length;
  return passed(`${n} check(s) passed${skipped.length > 0 ? `; skipped: ${skipped.join(', ')}` : ''}`);
}

export async function runScan(opts: ScanOptions): Promise<ScanReport> {
  const say = opts.progress ?? (() => undefined);
  const checks: ScanCheck[] = [];

  say('secrets: listing files');
  const files = await (opts.listFiles ?? ((root: string) => listTree(root, say)))(opts.root);
  say(`secrets: scanning ${files.length} files`);
  const allowlistPath = join(opts.root, opts.allowlistPath ?? DEFAULT_ALLOWLIST);
  const { findings, allowed } = await scanSecrets(opts.root, files, await readOptional(allowlistPath));
  checks.push(
    findings.length === 0
      ? {
          name: 'secrets',
          ...passed(`${files.length} files, no findings${allowed ? ` (${allowed} allowlisted)` : ''}`),
        }
      : {
          name: 'secrets',
          ...failed(
            `${findings.length} finding(s): ${findings
              .slice(0, 10)
              .map((f) => `${f.path}:${f.line} ${f.rule} fingerprint:${f.fingerprint}`)
              .join('; ')}${findings.length > 10 ? '; …' : ''}`,
          ),
        },
  );

  const dockerfile = opts.dockerfilePath ?? DEFAULT_DOCKERFILE;
  say(`dockerfile: checking ${dockerfile}`);
  const text = await readOptional(join(opts.root, dockerfile));
  if (text === undefined) checks.push({ name: 'dockerfile', ...failed(`${dockerfile} not found`) });
  else
    for (const c of checkDockerfile(text))
      checks.push({ name: `dockerfile:${c.id}`, outcome: c.outcome, reasons: c.reasons });

  say('audit: npm audit');
  const run = await (opts.audit ?? ((root: string) => npmAudit(root)))(opts.root);
  const audit = interpretAudit(run, { allowOffline: opts.allowOffline ?? false, level: opts.auditLevel ?? 'high' });
  checks.push({ name: 'audit', outcome: audit.outcome, reasons: audit.reasons });

  return {
    version: 1,
    ...scanVerdict(checks),
    finishedAt: new Date().toISOString(),
    checks,
    secrets: findings,
  };
}
