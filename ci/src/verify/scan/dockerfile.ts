/** Dockerfile policy as pure functions: pinned base images, a non-root final USER, no remote ADD. */
import { failed, passed, type Verdict } from '../../definitions/verdict.js';

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

/** One policy's verdict on the Dockerfile; a failure's reasons name each offending line. */
export interface DockerfileCheck extends Verdict {
  readonly id: 'pinned-base' | 'non-root-user' | 'no-remote-add';
}

/** Instructions with continuation lines joined and comments dropped (default `\` escape). */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buf = '';
  let start = 0;
  text.split(/\r?\n/).forEach((raw, i) => {
    const trimmed = raw.trim();
    if (buf === '' && (trimmed === '' || trimmed.startsWith('#'))) return;
    if (buf !== '' && trimmed.startsWith('#')) return; // comments inside a continued instruction
    if (buf === '') start = i + 1;
    if (trimmed.endsWith('\\')) {
      buf += `${trimmed.slice(0, -1).trimEnd()} `;
      return;
    }
    buf += trimmed;
    const m = /^(\S+)\s*(.*)$/s.exec(buf.trim());
    if (m) out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
    buf = '';
  });
  if (buf.trim()) {
    const m = /^(\S+)\s*(.*)$/s.exec(buf.trim());
    if (m) out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
  }
  return out;
}

const DIGEST_RE = /@sha256:[a-f0-9]{64}$/;
const EXACT_VERSION_RE = /^v?\d+\.\d+\.\d+(?:[-_.+][A-Za-z0-9._-]+)?$/;

function substitute(value: string, vars: Readonly<Record<string, string>>): string | undefined {
  let unresolved = false;
  const out = value.replace(/\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)/g, (_m, a?: string, def?: string, b?: string) => {
    const name = (a ?? b)!;
    const v = vars[name] ?? def;
    if (v === undefined) unresolved = true;
    return v ?? '';
  });
  return unresolved ? undefined : out;
}

/** Why an image reference is not pinned, or undefined when it is (digest, or an exact x.y.z tag). */
export function unpinnedReason(image: string): string | undefined {
  if (DIGEST_RE.test(image)) return undefined;
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1);
  if (colon < 0) return 'no tag (implicitly :latest) and no digest';
  const tag = image.slice(colon + 1);
  if (tag === 'latest') return 'tag "latest" moves';
  if (!EXACT_VERSION_RE.test(tag)) return `tag "${tag}" is not an exact version (x.y.z) and there is no @sha256 digest`;
  return undefined;
}

/** ARGs declared before the first FROM, with their defaults: they may parameterise FROM lines. */
function globalArgsOf(instructions: readonly Instruction[]): Record<string, string> {
  const globalArgs: Record<string, string> = {};
  for (const i of instructions) {
    if (i.keyword === 'FROM') break;
    if (i.keyword === 'ARG') {
      const m = /^(\w+)(?:=(.*))?$/.exec(i.args);
      if (m && m[2] !== undefined) globalArgs[m[1]!] = m[2].replace(/^["']|["']$/g, '');
    }
  }
  return globalArgs;
}

/** Every FROM names a pinned image, scratch or an earlier stage; a build argument without a default is unpinned. */
function pinnedBase(instructions: readonly Instruction[], froms: readonly Instruction[]): DockerfileCheck {
  const globalArgs = globalArgsOf(instructions);
  const stages = new Set<string>();
  const unpinned: string[] = [];
  for (const f of froms) {
    const words = f.args.split(/\s+/).filter((w) => !w.startsWith('--'));
    const ref = words[0] ?? '';
    const alias = words[1]?.toUpperCase() === 'AS' ? words[2] : undefined;
    const image = substitute(ref, globalArgs);
    if (image === undefined) unpinned.push(`line ${f.line}: ${ref} uses a build argument without a default`);
    else if (image !== 'scratch' && !stages.has(image.toLowerCase())) {
      const why = unpinnedReason(image);
      if (why) unpinned.push(`line ${f.line}: ${image}: ${why}`);
    }
    if (alias) stages.add(alias.toLowerCase());
  }
  return unpinned.length === 0
    ? { id: 'pinned-base', ...passed(`${froms.length} FROM line(s) pinned`) }
    : { id: 'pinned-base', ...failed(...unpinned) };
}

/** The final stage's last USER is neither root nor 0 (no USER at all runs as root). */
function nonRootUser(instructions: readonly Instruction[], froms: readonly Instruction[]): DockerfileCheck {
  const lastStageStart = instructions.lastIndexOf(froms.at(-1)!);
  const users = instructions.slice(lastStageStart).filter((i) => i.keyword === 'USER');
  const finalUser = users.at(-1);
  const userName = finalUser?.args.split(':')[0]?.trim();
  if (!finalUser)
    return { id: 'non-root-user', ...failed('the final stage has no USER instruction, so it runs as root') };
  if (userName === 'root' || userName === '0')
    return { id: 'non-root-user', ...failed(`line ${finalUser.line}: USER ${finalUser.args} is root`) };
  return { id: 'non-root-user', ...passed(`runs as ${finalUser.args}`) };
}

/** No ADD fetches a URL or a git repository. */
function noRemoteAdd(instructions: readonly Instruction[]): DockerfileCheck {
  const remoteAdds = instructions
    .filter((i) => i.keyword === 'ADD')
    .filter((i) =>
      i.args
        .split(/\s+/)
        .filter((w) => !w.startsWith('--'))
        .slice(0, -1)
        .some((src) => /^(https?|ftp):\/\/|^git@|\.git(#|$)/i.test(src)),
    )
    .map((i) => `line ${i.line}: ADD ${i.args}`);
  return remoteAdds.length === 0
    ? { id: 'no-remote-add', ...passed('no remote ADD') }
    : {
        id: 'no-remote-add',
        ...failed(`remote ADD (use a pinned, checksummed COPY from a build stage): ${remoteAdds.join('; ')}`),
      };
}

export function checkDockerfile(text: string): DockerfileCheck[] {
  const instructions = parseDockerfile(text);
  const froms = instructions.filter((i) => i.keyword === 'FROM');
  if (froms.length === 0) {
    return [
      { id: 'pinned-base', ...failed('no FROM instruction') },
      { id: 'non-root-user', ...failed('no FROM instruction') },
      { id: 'no-remote-add', ...passed('no ADD instructions') },
    ];
  }
  return [pinnedBase(instructions, froms), nonRootUser(instructions, froms), noRemoteAdd(instructions)];
}
