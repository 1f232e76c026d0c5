/**
 * `dagger call` arguments read as the Dagger CLI reads them, against the module's surface: module flags,
 * the function (`test`, `delivery deploy`), its flags, then one chained call (`export`, `terminal`, `up`).
 * An unknown function, an unknown flag, a bad enum value or a missing required flag is a UsageError
 * before anything runs. Secrets become test values (a kubeconfig: the rehearsal's fake API server).
 */
import { UsageError } from '../../definitions/errors.js';
import { enumMember, type Fn, type Param, type Surface } from './surface.js';

export type DriverArg =
  | { readonly kind: 'string' | 'number' | 'boolean'; readonly value: string | number | boolean }
  | { readonly kind: 'secret'; readonly name: string; readonly value: string }
  | { readonly kind: 'directory'; readonly path: string; readonly exclude?: readonly string[] }
  | { readonly kind: 'undefined' };

export interface CallSpec {
  readonly modulePath: string;
  readonly rootClass: string;
  readonly constructorArgs: DriverArg[];
  readonly path: string[];
  /** Arguments of the area accessor on the path (only defaultPath ones get a value, as the CLI passes none). */
  readonly accessorArgs: DriverArg[];
  readonly args: DriverArg[];
  readonly force: 'none' | 'sync' | 'entries' | 'terminal' | 'up';
}

/** How argument values that name things outside this machine are made local. */
export interface ValueSources {
  /** The test value for a secret flag (`env://X`, `file://…`). */
  secret(flag: string, given: string): string;
  /** A local directory for a Directory flag (a path, or a git URL `…#ref`). */
  directory(flag: string, given: string): { path: string; exclude?: readonly string[] };
  /** A Directory argument left to its defaultPath (relative to the repository root), without `ignore`. */
  defaultPath(path: string, ignore: readonly string[]): { path: string; exclude: readonly string[] };
}

export interface ParsedCall {
  readonly fn: Fn;
  readonly key: string;
  readonly flags: ReadonlyMap<string, string>;
  readonly moduleFlags: ReadonlyMap<string, string>;
  readonly chain: string | undefined;
}

/** Splits `--flag=value` / `--flag value` words; values stay as given. */
function readFlags(
  words: string[],
  at: number,
  params: readonly Param[],
  owner: string,
): [Map<string, string>, number] {
  const flags = new Map<string, string>();
  let i = at;
  while (i < words.length && words[i]!.startsWith('--')) {
    const word = words[i++]!;
    const eq = word.indexOf('=');
    const name = word.slice(2, eq < 0 ? undefined : eq);
    const param = params.find((p) => p.flag === name);
    if (!param)
      throw new UsageError(
        `${owner} takes no flag --${name} (it takes ${params.map((p) => `--${p.flag}`).join(', ') || 'none'})`,
      );
    let value = eq < 0 ? undefined : word.slice(eq + 1);
    if (value === undefined) {
      if (param.type === 'boolean') value = 'true';
      else if (i >= words.length) throw new UsageError(`--${name} of ${owner} has no value`);
      else value = words[i++]!;
    }
    if (param.choices && !enumMember(param.choices, value))
      throw new UsageError(`--${name} ${value} of ${owner} is not one of ${param.choices.join(', ')}`);
    flags.set(name, value);
  }
  return [flags, i];
}

export function parseCall(surface: Surface, words: readonly string[]): ParsedCall {
  const list = [...words];
  const [moduleFlags, at] = readFlags(list, 0, surface.constructorParams, 'the module');
  let i = at;
  let key = list[i++];
  if (key === undefined) throw new UsageError('name a function to rehearse');
  if (!surface.functions.has(key) && list[i] && !list[i]!.startsWith('-')) key = `${key} ${list[i++]}`;
  const fn = surface.functions.get(key);
  if (!fn) {
    const names = [...surface.functions.keys()].join(', ');
    throw new UsageError(`the module has no function "${key}" (functions: ${names})`);
  }
  const [flags, after] = readFlags(list, i, fn.params, key);
  for (const p of fn.params) if (p.required && !flags.has(p.flag)) throw new UsageError(`${key} needs --${p.flag}`);
  const chain = list[after];
  const rest = list.slice(after + 1).filter((w) => !w.startsWith('--') && !/^[\w./:-]+$/.test(w));
  if (rest.length > 0) throw new UsageError(`cannot rehearse "${rest.join(' ')}" after ${chain}`);
  return { fn, key, flags, moduleFlags, chain };
}

function argFor(p: Param, given: string | undefined, sources: ValueSources): DriverArg {
  if (given === undefined) return { kind: 'undefined' };
  if (p.type === 'Secret') return { kind: 'secret', name: p.flag, value: sources.secret(p.flag, given) };
  if (p.type === 'Directory') return { kind: 'directory', ...sources.directory(p.flag, given) };
  if (p.choices) return { kind: 'string', value: enumMember(p.choices, given)! };
  if (p.type === 'number') return { kind: 'number', value: Number(given) };
  if (p.type === 'boolean') return { kind: 'boolean', value: given === 'true' };
  return { kind: 'string', value: given };
}

/** The driver's instructions for a parsed call; absent optional arguments stay undefined (their defaults apply). */
export function callSpec(surface: Surface, call: ParsedCall, modulePath: string, sources: ValueSources): CallSpec {
  const withDefault = (p: Param, given: string | undefined): DriverArg =>
    given === undefined && p.defaultPath !== undefined
      ? { kind: 'directory', ...sources.defaultPath(p.defaultPath, p.ignore ?? []) }
      : argFor(p, given, sources);
  const constructorArgs = surface.constructorParams.map((p) => withDefault(p, call.moduleFlags.get(p.flag)));
  const args = call.fn.params.map((p) => withDefault(p, call.flags.get(p.flag)));
  const accessorArgs = (call.fn.accessorParams ?? []).map((p) => withDefault(p, undefined));
  // Trailing undefined arguments are dropped so parameter defaults apply.
  while (args.length > 0 && args.at(-1)!.kind === 'undefined') args.pop();
  const force: CallSpec['force'] =
    call.chain === 'terminal'
      ? 'terminal'
      : call.fn.returns === 'Container'
        ? 'sync'
        : call.fn.returns === 'Directory'
          ? 'entries'
          : call.fn.returns === 'Service'
            ? 'up'
            : 'none';
  return {
    modulePath,
    rootClass: surface.rootClass,
    constructorArgs,
    path: [...call.fn.path],
    accessorArgs,
    args,
    force,
  };
}
