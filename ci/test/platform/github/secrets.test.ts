/**
 * No GitHub error prints a secret: whatever the body echoes (Authorization header, the request, field
 * errors), every status path says the status and GitHub's message only.
 */
import { RequestError } from '@octokit/request-error';
import { describe, expect, it } from 'vitest';
import { githubError } from '../../../src/platform/github/client.js';

const TOKEN = 'ghp_planted_secret_token_0123456789abcdef';
const echoes = {
  message: `Bad things; you sent Authorization: token ${TOKEN}`,
  errors: [{ message: `header Authorization: Bearer ${TOKEN}` }, `token ${TOKEN}`],
  request: { headers: { authorization: `token ${TOKEN}` } },
  documentation_url: `https://docs.github.com/?t=${TOKEN}`,
};

describe('githubError never carries the token', () => {
  it.each([401, 403, 404, 409, 422, 429, 500, 502])('HTTP %i with a body that echoes the request', (status) => {
    const err = new RequestError(`echo ${TOKEN}`, status, {
      request: { method: 'POST', url: 'https://api.github.com/x', headers: { authorization: `token ${TOKEN}` } },
      response: { status, url: 'https://api.github.com/x', headers: {}, data: echoes },
    });
    const msg = githubError(err, 'doing it').message;
    expect(msg).not.toContain(TOKEN);
    expect(msg).not.toContain('planted_secret');
    expect(msg).toMatch(new RegExp(`\\b${status}\\b|rate limit`));
  });

  it('a network error whose message carries the token', () => {
    const msg = githubError(new Error(`connect ECONNREFUSED with Authorization: token ${TOKEN}`), 'doing it').message;
    expect(msg).not.toContain(TOKEN);
    expect(msg).toContain('ECONNREFUSED');
  });
});
