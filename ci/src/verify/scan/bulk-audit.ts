/**
 * An audit of packages that have no lockfile (those inside an image, as listed by sbom.ts): npm's
 * bulk advisory endpoint, asked directly with name → versions. The answer is turned into the shape
 * of `npm audit --json`, so interpretAudit decides (and fails closed when there is no answer) the
 * same way for the tree and for the image.
 */
import semver from 'semver';
import type { AuditRun, Severity } from './audit.js';

export interface AuditPackage {
  readonly name: string;
  readonly version: string;
}

type Fetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal },
) => Promise<{ status: number; statusText: string; text(): Promise<string> }>;

interface Advisory {
  readonly id?: number;
  readonly severity?: Severity;
  readonly vulnerable_versions?: string;
  readonly title?: string;
}

export async function bulkAudit(
  packages: readonly AuditPackage[],
  opts: { registry?: string; fetch?: Fetch; timeoutMs?: number } = {},
): Promise<AuditRun> {
  const registry = (opts.registry ?? 'https://registry.npmjs.org/').replace(/\/?$/, '/');
  const url = `${registry}-/npm/v1/security/advisories/bulk`;
  const body: Record<string, string[]> = {};
  for (const p of packages) {
    const versions = (body[p.name] ??= []);
    if (!versions.includes(p.version)) versions.push(p.version);
  }
  const doFetch = opts.fetch ?? (globalThis.fetch as unknown as Fetch);
  let status: number;
  let text: string;
  try {
    const res = await doFetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
    });
    status = res.status;
    text = await res.text();
    if (status !== 200)
      return {
        exitCode: 1,
        stdout: JSON.stringify({ message: `${status} ${res.statusText} - POST ${url}` }),
        stderr: '',
      };
  } catch (err) {
    return { exitCode: 1, stdout: JSON.stringify({ message: `POST ${url}: ${(err as Error).message}` }), stderr: '' };
  }
  let advisories: Record<string, Advisory[]>;
  try {
    advisories = JSON.parse(text) as Record<string, Advisory[]>;
  } catch {
    return { exitCode: 1, stdout: JSON.stringify({ message: `POST ${url}: the answer is not JSON` }), stderr: '' };
  }
  return { exitCode: 0, stdout: JSON.stringify(toAuditJson(packages, advisories)), stderr: '' };
}

/** `npm audit --json`'s metadata and vulnerabilities from bulk advisories, per installed version. */
function toAuditJson(packages: readonly AuditPackage[], advisories: Readonly<Record<string, readonly Advisory[]>>) {
  const order: Severity[] = ['info', 'low', 'moderate', 'high', 'critical'];
  const vulnerabilities: Record<string, { severity: Severity; via: string[] }> = {};
  for (const p of packages) {
    for (const a of advisories[p.name] ?? []) {
      const range = a.vulnerable_versions ?? '*';
      if (!semver.satisfies(p.version, range, { includePrerelease: true })) continue;
      const sev = a.severity ?? 'high'; // an advisory without a severity counts as high, never as nothing
      const key = `${p.name}@${p.version}`;
      const prev = vulnerabilities[key];
      const via = [...(prev?.via ?? []), a.title ?? `advisory ${a.id ?? '?'}`];
      vulnerabilities[key] = {
        severity: prev && order.indexOf(prev.severity) > order.indexOf(sev) ? prev.severity : sev,
        via,
      };
    }
  }
  const counts = Object.fromEntries(order.map((s) => [s, 0])) as Record<Severity, number>;
  for (const v of Object.values(vulnerabilities)) counts[v.severity]++;
  return { metadata: { vulnerabilities: counts }, vulnerabilities };
}
