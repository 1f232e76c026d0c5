/**
 * Secret scanning as pure functions over file contents. A finding names the file, line and rule and a
 * short fingerprint of the match (for the allowlist), never the matched text itself.
 */
import { createHash } from 'node:crypto';
import picomatch from 'picomatch';
import { UsageError } from '../../definitions/errors.js';

export interface SecretRule {
  readonly id: string;
  readonly description: string;
  readonly re: RegExp;
}

export const SECRET_RULES: readonly SecretRule[] = [
  { id: 'private-key', description: 'PEM private key', re: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/ },
  {
    id: 'github-token',
    description: 'GitHub token (ghp_/gho_/ghu_/ghs_/ghr_)',
    re: /\bgh[pousr]_[A-Za-z0-9]{36,255}\b/,
  },
  {
    id: 'github-pat',
    description: 'GitHub fine-grained personal access token',
    re: /\bgithub_pat_[A-Za-z0-9_]{60,255}\b/,
  },
  { id: 'npm-token', description: 'npm access token', re: /\bnpm_[A-Za-z0-9]{36}\b/ },
  { id: 'aws-access-key-id', description: 'AWS access key id', re: /\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b/ },
  {
    id: 'aws-secret-access-key',
    description: 'AWS secret access key assignment',
    re: /aws_?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])/i,
  },
  { id: 'slack-token', description: 'Slack token', re: /\bxox[abposr]-[A-Za-z0-9-]{10,}\b/ },
  { id: 'google-api-key', description: 'Google API key', re: /\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/ },
  { id: 'stripe-live-key', description: 'Stripe live secret key', re: /\b[sr]k_live_[A-Za-z0-9]{24,}\b/ },
  // [T] keeps this rule's own source from matching it.
  { id: 'npmrc-auth', description: 'npm registry auth token in an .npmrc', re: /:_auth[T]oken=(?!\$\{)[^\s]{8,}/ },
];

export interface SecretFinding {
  readonly path: string;
  readonly line: number;
  readonly rule: string;
  /** sha256 of the matched text, first 16 hex characters: identifies a finding without revealing it. */
  readonly fingerprint: string;
}

export function fingerprint(match: string): string {
  return createHash('sha256').update(match).digest('hex').slice(0, 16);
}

export function scanText(path: string, text: string, rules: readonly SecretRule[] = SECRET_RULES): SecretFinding[] {
  // Fast path for the common case (image scans read hundreds of MB of text):
  // a rule that finds nothing in the whole text finds nothing in any line, so test the whole text first.
  rules = rules.filter((r) => new RegExp(r.re.source, r.re.flags.replace('g', '')).test(text));
  if (rules.length === 0) return [];
  const findings: SecretFinding[] = [];
  const lines = text.split('\n');
  lines.forEach((lineText, i) => {
    for (const rule of rules) {
      const re = new RegExp(rule.re.source, rule.re.flags.includes('g') ? rule.re.flags : `${rule.re.flags}g`);
      for (const m of lineText.matchAll(re))
        findings.push({ path, line: i + 1, rule: rule.id, fingerprint: fingerprint(m[0]) });
    }
  });
  return findings;
}

export interface AllowEntry {
  readonly kind: 'path' | 'fingerprint';
  readonly pattern: string;
  readonly rule?: string;
  readonly line: number;
}

/**
 * The allowlist format, one entry a line (`#` comments):
 *   <glob>              every rule, in files matching the glob
 *   <glob> <rule-id>    one rule in those files
 *   fingerprint:<hex>   one finding, wherever it is (printed by the scan)
 */
/** A malformed allowlist: the user's file, so bad usage (exit 2); the CLI prefixes the file's path. */
export class AllowlistError extends UsageError {}

export function parseAllowlist(text: string): AllowEntry[] {
  const entries: AllowEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    const parts = line.split(/\s+/);
    if (parts.length > 2)
      throw new AllowlistError(
        `allowlist line ${i + 1}: expected "<glob> [rule]" or "fingerprint:<hex>", got "${line}"`,
      );
    const [first, rule] = parts as [string, string | undefined];
    if (first.startsWith('fingerprint:')) {
      const fp = first.slice('fingerprint:'.length);
      if (!/^[0-9a-f]{16}$/.test(fp) || rule)
        throw new AllowlistError(`allowlist line ${i + 1}: fingerprint must be 16 hex characters`);
      entries.push({ kind: 'fingerprint', pattern: fp, line: i + 1 });
      return;
    }
    if (rule !== undefined && !SECRET_RULES.some((r) => r.id === rule)) {
      throw new AllowlistError(
        `allowlist line ${i + 1}: unknown rule "${rule}" (rules: ${SECRET_RULES.map((r) => r.id).join(', ')})`,
      );
    }
    entries.push({ kind: 'path', pattern: first, ...(rule ? { rule } : {}), line: i + 1 });
  });
  return entries;
}

export function isAllowed(finding: SecretFinding, allow: readonly AllowEntry[]): boolean {
  return allow.some((e) =>
    e.kind === 'fingerprint'
      ? e.pattern === finding.fingerprint
      : (e.rule === undefined || e.rule === finding.rule) && picomatch.isMatch(finding.path, e.pattern, { dot: true }),
  );
}

/** Files not worth reading: binaries (a NUL byte early on) and anything too large to be source. */
export function isScannable(content: Buffer, maxBytes = 2 * 1024 * 1024): boolean {
  if (content.length > maxBytes) return false;
  return !content.subarray(0, 8000).includes(0);
}
