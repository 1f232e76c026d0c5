import { describe, expect, it } from 'vitest';
import {
  fingerprint,
  isAllowed,
  isScannable,
  parseAllowlist,
  scanText,
  SECRET_RULES,
} from '../../../src/verify/scan/secrets.js';

// Fake secrets are assembled at run time so this file never contains one (the scan reads it too).
const j = (...parts: string[]) => parts.join('');
const fakes: Record<string, string> = {
  'private-key': j('-----BEGIN ', 'RSA PRIVATE KEY-----'),
  'github-token': j('gh', 'p_', 'a'.repeat(20), 'B'.repeat(16)),
  'github-pat': j('github', '_pat_', '11ABCDEFG0', 'x'.repeat(72)),
  'npm-token': j('np', 'm_', 'Z'.repeat(36)),
  'aws-access-key-id': j('AK', 'IA', 'IOSFODNN7EXAMPLE'),
  'aws-secret-access-key': j('aws_secret_', 'access_key = ', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCY', 'EXAMPLEKEY'),
  'slack-token': j('xo', 'xb-', '1234567890-abcdefghij'),
  'google-api-key': j('AI', 'za', 'S'.repeat(35)),
  'stripe-live-key': j('sk', '_live_', 'q'.repeat(24)),
  'npmrc-auth': j('//registry.npmjs.org/:_auth', 'Token=', 'abcdef1234567890'),
};

describe('secret rules', () => {
  it('has a fake for every rule', () =>
    expect(Object.keys(fakes).sort()).toEqual(SECRET_RULES.map((r) => r.id).sort()));
  it.each(Object.entries(fakes))('%s is found, with line and fingerprint but not the value', (rule, fake) => {
    const findings = scanText('src/config.ts', `const a = 1;\nconst token = "${fake}";\n`);
    expect(findings).toEqual([
      { path: 'src/config.ts', line: 2, rule, fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/) },
    ]);
    expect(JSON.stringify(findings)).not.toContain(fake);
  });
  it.each([
    'const x = process.env.GITHUB_TOKEN;',
    'ghp_short',
    'AKIAlowercase0000000',
    '//registry.npmjs.org/:_authToken=${NPM_TOKEN}',
    'sha512-AKIAIOSFODNN7EXAMPLEplusmorebase64',
    '-----BEGIN PUBLIC KEY-----',
  ])('does not flag %j', (text) => {
    expect(scanText('a.ts', text)).toEqual([]);
  });
  it('fingerprints identify a value without revealing it', () => {
    expect(fingerprint('abc')).toBe(fingerprint('abc'));
    expect(fingerprint('abc')).not.toBe(fingerprint('abd'));
  });
});

describe('allowlist', () => {
  const finding = scanText('docs/example.md', fakes['aws-access-key-id']!)[0]!;
  it('allows by glob, by glob and rule, and by fingerprint', () => {
    expect(isAllowed(finding, parseAllowlist('docs/**'))).toBe(true);
    expect(isAllowed(finding, parseAllowlist('docs/** aws-access-key-id'))).toBe(true);
    expect(isAllowed(finding, parseAllowlist('docs/** npm-token'))).toBe(false);
    expect(isAllowed(finding, parseAllowlist('src/**'))).toBe(false);
    expect(isAllowed(finding, parseAllowlist(`# comment\nfingerprint:${finding.fingerprint}  # known example`))).toBe(
      true,
    );
    expect(isAllowed(finding, parseAllowlist('fingerprint:0000000000000000'))).toBe(false);
  });
  it('rejects malformed lines with the line number', () => {
    expect(() => parseAllowlist('a b c')).toThrow(/line 1: expected/);
    expect(() => parseAllowlist('\ndocs/** no-such-rule')).toThrow(/line 2: unknown rule "no-such-rule"/);
    expect(() => parseAllowlist('fingerprint:xyz')).toThrow(/16 hex/);
  });
  it('skips binaries and huge files', () => {
    expect(isScannable(Buffer.from('text'))).toBe(true);
    expect(isScannable(Buffer.from([1, 0, 2]))).toBe(false);
    expect(isScannable(Buffer.alloc(10, 'a'), 5)).toBe(false);
  });
});
