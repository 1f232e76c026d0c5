/**
 * The images `from` asks for, as this engine has them: the stand-in ci/scripts/standin-base.sh makes for a
 * pinned name (rebuilt when its inputs changed, e.g. another copy of the script retagged it), or nothing
 * when no stand-in can exist (trivy): then the rehearsal stops where that image would run.
 */
import { runProcess } from '../../platform/process/run.js';
import { REPO_ROOT } from '../../platform/repo-root.js';
import type { Docker } from '../image/docker.js';

const STANDIN_SCRIPT = `${REPO_ROOT}/ci/scripts/standin-base.sh`;
/** standin-base.sh: no stand-in exists for this name. */
const NO_STANDIN = 3;

export function baseImages(docker: Docker, log: (line: string) => void) {
  const known = new Map<string, Promise<{ id: string; workdir: string | undefined } | undefined>>();
  const resolve = async (address: string) => {
    const made = await runProcess({ argv: ['bash', STANDIN_SCRIPT, address], timeoutMs: 1_800_000 });
    const said = (made.stdout + made.stderr).trim();
    if (made.exitCode === NO_STANDIN) {
      log(`no stand-in for ${address}: ${said}`);
      return undefined;
    }
    if (made.exitCode !== 0)
      throw new Error(`making the stand-in for ${address} failed: ${said.split('\n').slice(-5).join(' | ')}`);
    if (!said.includes('up to date')) log(said);
    const res = await docker(['image', 'inspect', '--format', '{{.Id}} {{json .Config.WorkingDir}}', address]);
    if (res.code !== 0) throw new Error(`image ${address} is not in the local engine after standin-base.sh`);
    const [id, wd] = res.stdout.trim().split(' ');
    const workdir = wd && wd !== '""' ? (JSON.parse(wd) as string) : undefined;
    return { id: id!, workdir };
  };
  return (address: string) => {
    let found = known.get(address);
    if (!found) {
      found = resolve(address);
      known.set(address, found);
    }
    return found;
  };
}
