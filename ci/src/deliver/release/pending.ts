/**
 * What a train would ship, read from local git (thin edge): staging's cut takes develop's commits that main
 * does not have; prod's release takes the newest release/* branch's commits since the last v* tag. An empty
 * list is an empty train: nothing to cut.
 */
import type { TrainLane } from '../../definitions/environments.js';
import { gitOutput } from '../../verify/policy/git.js';

export interface Pending {
  /** The refs compared, `base..head`. */
  readonly range: string;
  readonly commits: readonly string[];
}

/** First ref of the list that exists (remote-tracking first, as a CI checkout has them). */
async function firstRef(root: string, names: readonly string[]): Promise<string | undefined> {
  for (const n of names) if (await gitOutput(root, ['rev-parse', '--verify', '--quiet', `${n}^{commit}`])) return n;
  return undefined;
}

async function commitsIn(root: string, base: string, head: string): Promise<Pending> {
  const log = await gitOutput(root, ['log', '--no-merges', '--format=%h %s', `${base}..${head}`]);
  return { range: `${base}..${head}`, commits: log ? log.split('\n') : [] };
}

/** Undefined with the reason when the refs are not here (a shallow checkout, say): unknown is not empty. */
export async function pendingFor(root: string, ships: TrainLane['ships']): Promise<Pending | { unknown: string }> {
  const main = await firstRef(root, ['origin/main', 'main']);
  if (ships === 'develop') {
    const develop = await firstRef(root, ['origin/develop', 'develop']);
    if (!main || !develop) return { unknown: 'develop or main is not in this checkout (fetch them)' };
    return commitsIn(root, main, develop);
  }
  const branches = await gitOutput(root, [
    'for-each-ref',
    '--sort=-version:refname',
    '--format=%(refname:short)',
    'refs/remotes/origin/release/',
    'refs/heads/release/',
  ]);
  const newest = branches?.split('\n')[0];
  if (!newest) return { range: 'release/* (no such branch)', commits: [] };
  const tag = await gitOutput(root, ['describe', '--tags', '--abbrev=0', '--match', 'v[0-9]*', main ?? 'HEAD']);
  return commitsIn(root, tag ?? (main as string), newest);
}
