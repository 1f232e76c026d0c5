/**
 * The Dagger module's public surface as the workflow tests check it: a view of the rehearsal's reader
 * (ci/src/verify/rehearse/surface.ts, the one description of the module's functions and flags), reduced to what a
 * `call:` line can name: flags, whether each is required, an enum's members.
 */
import { dirname } from 'node:path';
import { enumMember, readSurface, type Param } from '../../src/verify/rehearse/surface.js';

interface DaggerParam {
  readonly flag: string;
  readonly required: boolean;
  /** For an enum-typed parameter, its members: the CLI takes nothing else. */
  readonly choices?: readonly string[];
}
interface DaggerFunction {
  readonly name: string;
  readonly params: readonly DaggerParam[];
}
export interface DaggerModule {
  readonly constructorParams: readonly DaggerParam[];
  readonly functions: ReadonlyMap<string, DaggerFunction>;
}

const view = (p: Param): DaggerParam => ({
  flag: p.flag,
  required: p.required,
  ...(p.choices ? { choices: p.choices } : {}),
});

/** `path`: the root object's file (dagger/src/index.ts); its directory holds the area objects. */
export function readDaggerModule(path: string): DaggerModule {
  const surface = readSurface(dirname(path));
  const functions = new Map<string, DaggerFunction>();
  for (const [name, fn] of surface.functions) functions.set(name, { name, params: fn.params.map(view) });
  return { constructorParams: surface.constructorParams.map(view), functions };
}

/** Whether the Dagger 0.21 CLI takes `value` for an enum flag (upper snake case, matched ignoring case). */
const enumAccepts = (choices: readonly string[], value: string): boolean => enumMember(choices, value) !== undefined;

/** Flags of core types a call may chain into after a function returning them. */
const CHAINS: Record<string, readonly string[]> = {
  export: ['path'],
  stdout: [],
  sync: [],
  up: ['ports'],
  terminal: [],
};

/** Problems with one `dagger call` argument string (empty when it names real functions and flags). */
export function checkCall(mod: DaggerModule, call: string): string[] {
  // A `${{ expression }}` is one value whatever spaces it contains.
  const tokens = call
    .replace(/\$\{\{[^}]*\}\}/g, 'EXPR')
    .trim()
    .split(/\s+/);
  const problems: string[] = [];
  const flagName = (t: string) => t.replace(/^--/, '').split('=')[0]!;
  let i = 0;
  for (; i < tokens.length && tokens[i]!.startsWith('--'); i++) {
    if (!mod.constructorParams.some((p) => p.flag === flagName(tokens[i]!)))
      problems.push(`unknown module argument ${tokens[i]}`);
  }
  let fnName = tokens[i++];
  // `delivery deploy`: an area accessor and its function are one name.
  if (fnName && !mod.functions.has(fnName) && tokens[i] && !tokens[i]!.startsWith('--')) fnName += ` ${tokens[i++]}`;
  const fn = fnName ? mod.functions.get(fnName) : undefined;
  if (!fn) return [...problems, `no function "${fnName}" in the module`];
  const given = new Set<string>();
  for (; i < tokens.length && tokens[i]!.startsWith('--'); i++) {
    const f = flagName(tokens[i]!);
    if (!tokens[i]!.includes('=')) problems.push(`flag ${tokens[i]} of ${fn.name} has no =value`);
    const param = fn.params.find((p) => p.flag === f);
    if (!param) problems.push(`${fn.name} has no flag --${f}`);
    // A literal value of an enum flag must be a member; a ${{ }} value is checked where it is defined.
    const value = tokens[i]!.slice(tokens[i]!.indexOf('=') + 1);
    if (
      param?.choices &&
      tokens[i]!.includes('=') &&
      !value.includes('EXPR') &&
      !enumAccepts(param.choices, value.replace(/^"|"$/g, ''))
    ) {
      problems.push(`--${f}=${value} of ${fn.name} is not one of ${param.choices.join(', ')}`);
    }
    given.add(f);
  }
  for (const p of fn.params) if (p.required && !given.has(p.flag)) problems.push(`${fn.name} needs --${p.flag}`);
  while (i < tokens.length) {
    const chain = tokens[i++]!;
    const flags = CHAINS[chain];
    if (!flags) {
      problems.push(`unexpected "${chain}" after ${fn.name}`);
      break;
    }
    for (; i < tokens.length && tokens[i]!.startsWith('--'); i++) {
      if (!flags.includes(flagName(tokens[i]!))) problems.push(`${chain} has no flag ${tokens[i]}`);
      if (!tokens[i]!.includes('=') && tokens[i + 1] && !tokens[i + 1]!.startsWith('--')) i++;
    }
  }
  return problems;
}
