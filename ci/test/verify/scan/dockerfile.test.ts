import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isPass } from '../../../src/definitions/verdict.js';
import { checkDockerfile, parseDockerfile, unpinnedReason } from '../../../src/verify/scan/dockerfile.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const byId = (text: string) => Object.fromEntries(checkDockerfile(text).map((c) => [c.id, c]));

describe('Dockerfile policy', () => {
  it('passes a pinned, non-root Dockerfile (ARG defaults, stage aliases, continuations)', () => {
    const c = byId(fixture('Dockerfile.good'));
    expect(c['pinned-base']).toMatchObject({ outcome: 'passed' });
    expect(c['non-root-user']).toEqual({ id: 'non-root-user', outcome: 'passed', reasons: ['runs as 1000:1000'] });
    expect(c['no-remote-add']).toMatchObject({ outcome: 'passed' });
  });
  it('fails an unpinned, root Dockerfile with remote ADD, naming the lines', () => {
    const c = byId(fixture('Dockerfile.bad'));
    expect(c['pinned-base']!.outcome).toBe('failed');
    // One reason per unpinned FROM line.
    expect(c['pinned-base']!.reasons).toEqual([
      expect.stringContaining('line 1: node:20: tag "20" is not an exact version'),
      expect.stringContaining('line 3: node:latest: tag "latest" moves'),
    ]);
    expect(c['non-root-user']).toMatchObject({ outcome: 'failed', reasons: ['line 6: USER root is root'] });
    expect(c['no-remote-add']!.reasons.join('; ')).toContain('line 4: ADD https://example.com/tool.tar.gz /opt/');
  });
  it('requires a USER in the final stage', () => {
    const c = byId('FROM node:20.20.0 AS a\nUSER node\nFROM node:20.20.0\nCMD ["x"]\n');
    expect(c['non-root-user']).toMatchObject({
      outcome: 'failed',
      reasons: [expect.stringMatching(/final stage has no USER/)],
    });
    expect(byId('FROM node:20.20.0\nUSER 0\n')['non-root-user']!.outcome).toBe('failed');
  });
  it('flags a FROM that depends on an ARG without a default', () => {
    expect(byId('ARG BASE\nFROM ${BASE}\nUSER app\n')['pinned-base']!.reasons.join('; ')).toMatch(
      /build argument without a default/,
    );
  });
  it('flags remote ADD from git too', () => {
    expect(
      byId('FROM node:20.20.0\nADD https://github.com/x/y.git#v1 /src\nUSER app\n')['no-remote-add']!.outcome,
    ).toBe('failed');
  });
  it.each([
    ['node:20.20.0-alpine3.21', undefined],
    ['registry.example.com:5000/team/node:1.2.3', undefined],
    ['node@sha256:' + 'a'.repeat(64), undefined],
    ['node:20', /not an exact version/],
    ['node', /no tag/],
    ['registry.example.com:5000/node', /no tag/],
    ['node:lts-slim', /not an exact version/],
  ])('%s', (image, reason) => {
    if (reason) expect(unpinnedReason(image)).toMatch(reason);
    else expect(unpinnedReason(image)).toBeUndefined();
  });
  it('parses continuations and keeps the first line number', () => {
    expect(
      parseDockerfile('FROM a:1.2.3\nRUN a \\\n  && b\n# c\nUSER x').map((i) => [i.keyword, i.args, i.line]),
    ).toEqual([
      ['FROM', 'a:1.2.3', 1],
      ['RUN', 'a && b', 2],
      ['USER', 'x', 5],
    ]);
  });
  it('fails an empty Dockerfile', () => {
    expect(
      checkDockerfile('# nothing')
        .filter((c) => !isPass(c))
        .map((c) => c.id),
    ).toEqual(['pinned-base', 'non-root-user']);
  });
});
