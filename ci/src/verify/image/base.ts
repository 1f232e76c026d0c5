/**
 * Base images of a Dockerfile: the pinned image when the engine has it or can pull it; otherwise a
 * stand-in made by ci/scripts/standin-base.sh and tagged with the pinned name in this engine only.
 * A stand-in carries the label io.kgraph.standin, and every report built on it says so.
 */
import { fileURLToPath } from 'node:url';
import { parseDockerfile } from '../scan/dockerfile.js';
import { dockerFailure, type Docker } from './docker.js';

export const STANDIN_SCRIPT = fileURLToPath(new URL('../../../scripts/standin-base.sh', import.meta.url));

export interface BaseImage {
  readonly name: string;
  readonly id: string;
  /** `local`: a real image the engine already had; `pulled`: pulled now; `standin`: made here. */
  readonly source: 'local' | 'pulled' | 'standin';
  /** For a stand-in: what it is (the label text, naming the Node version it really has). */
  readonly standin?: string;
}

/** The images FROM lines name, in order, without build stages and `scratch`. */
export function baseImagesOf(dockerfileText: string): string[] {
  const stages = new Set<string>();
  const images: string[] = [];
  for (const i of parseDockerfile(dockerfileText)) {
    if (i.keyword !== 'FROM') continue;
    const words = i.args.split(/\s+/).filter((w) => !w.startsWith('--'));
    const ref = words[0] ?? '';
    if (ref && ref !== 'scratch' && !stages.has(ref.toLowerCase()) && !images.includes(ref)) images.push(ref);
    if (words[1]?.toUpperCase() === 'AS' && words[2]) stages.add(words[2].toLowerCase());
  }
  return images;
}

interface Inspected {
  readonly id: string;
  readonly labels: Readonly<Record<string, string>>;
}

export async function inspectImage(docker: Docker, ref: string): Promise<Inspected | undefined> {
  const res = await docker(['image', 'inspect', '--format', '{{json .Id}} {{json .Config.Labels}}', ref], {
    timeoutMs: 30_000,
  });
  if (res.code !== 0) return undefined;
  const m = /^("[^"]*")\s+(.*)$/s.exec(res.stdout.trim());
  if (!m) return undefined;
  return { id: JSON.parse(m[1]!) as string, labels: (JSON.parse(m[2]!) as Record<string, string> | null) ?? {} };
}

export interface EnsureBaseOptions {
  readonly docker: Docker;
  /** Makes the stand-in for `name` (default: ci/scripts/standin-base.sh through the shell). */
  readonly makeStandin: (name: string) => Promise<void>;
  readonly log?: (line: string) => void;
  readonly pullTimeoutMs?: number;
}

/**
 * The pinned image where it can be had (already here and real, or pulled now: a pull also replaces a
 * stand-in); otherwise the stand-in, remade only when its inputs changed (the script decides).
 */
export async function ensureBaseImage(name: string, opts: EnsureBaseOptions): Promise<BaseImage> {
  const log = opts.log ?? (() => undefined);
  const before = await inspectImage(opts.docker, name);
  if (before && !before.labels['io.kgraph.standin']) return { name, id: before.id, source: 'local' };
  const pull = await opts.docker(['pull', '--quiet', name], { timeoutMs: opts.pullTimeoutMs ?? 180_000 });
  if (pull.code === 0) {
    const pulled = await inspectImage(opts.docker, name);
    if (pulled) {
      log(`base ${name}: pulled`);
      return { name, id: pulled.id, source: 'pulled' };
    }
  }
  log(`base ${name}: cannot be pulled (${dockerFailure('docker pull', pull)}); using a stand-in`);
  await opts.makeStandin(name);
  const made = await inspectImage(opts.docker, name);
  const label = made?.labels['io.kgraph.standin'];
  if (!made || !label) throw new Error(`base ${name}: no stand-in was made (ci/scripts/standin-base.sh ${name})`);
  return { name, id: made.id, source: 'standin', standin: label };
}

/** One line for reports: `node:22.21.1-bookworm-slim (stand-in: ...)` or `(pulled)`. */
export function describeBase(b: BaseImage): string {
  return b.source === 'standin' ? `${b.name} (${b.standin ?? 'stand-in'})` : `${b.name} (${b.source})`;
}
