/**
 * Reads the Dagger module's public surface from dagger/src with the TypeScript compiler API: the root
 * @object class (index.ts), its constructor arguments, its @func methods and those of the area objects
 * its accessors return (`delivery deploy`), with their parameters, as the Dagger CLI spells them (kebab-case).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import ts from 'typescript';

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

const kebab = (s: string): string => s.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

const decoratorNames = (node: ts.Node): string[] =>
  (ts.canHaveDecorators(node) ? (ts.getDecorators(node) ?? []) : []).map((d) => {
    const e = d.expression;
    return ts.isCallExpression(e) ? e.expression.getText() : e.getText();
  });

/** `@argument({ defaultPath })` fills a Directory or File from the repository: the flag is optional. */
const hasDefaultPath = (p: ts.ParameterDeclaration): boolean =>
  (ts.getDecorators(p) ?? []).some(
    (d) =>
      ts.isCallExpression(d.expression) &&
      /\bdefaultPath\b/.test(d.expression.arguments.map((a) => a.getText()).join(',')),
  );

type Enums = ReadonlyMap<string, readonly string[]>;

/** Every `enum X { a = "a" }` in the module's source directory (the engine registers them as Dagger enums). */
function readEnums(dir: string): Enums {
  const enums = new Map<string, string[]>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = ts.createSourceFile(file, readFileSync(join(dir, file), 'utf8'), ts.ScriptTarget.ES2022, true);
    for (const st of source.statements)
      if (ts.isEnumDeclaration(st))
        enums.set(
          st.name.text,
          st.members.map((m) => m.name.getText()),
        );
  }
  return enums;
}

const paramsOf = (params: ts.NodeArray<ts.ParameterDeclaration>, enums: Enums): DaggerParam[] =>
  params.map((p) => {
    const choices = p.type ? enums.get(p.type.getText()) : undefined;
    return {
      flag: kebab(p.name.getText()),
      required: !p.initializer && !p.questionToken && !hasDefaultPath(p),
      ...(choices ? { choices } : {}),
    };
  });

/**
 * Whether the Dagger 0.21 CLI takes `value` for an enum flag: the engine lists member names in upper snake
 * case unless they already are (core/gqlformat.go), the CLI matches them ignoring case (cmd/dagger/flags.go).
 */
function enumAccepts(choices: readonly string[], value: string): boolean {
  const engineName = (n: string) =>
    /^[A-Z][A-Z0-9_]*$/.test(n) ? n : n.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
  return choices.some((c) => engineName(c).toLowerCase() === value.toLowerCase());
}

/** Every @object() class in the module's source directory, by class name. */
function readObjects(dir: string): Map<string, ts.ClassDeclaration> {
  const objects = new Map<string, ts.ClassDeclaration>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = ts.createSourceFile(file, readFileSync(join(dir, file), 'utf8'), ts.ScriptTarget.ES2022, true);
    for (const st of source.statements)
      if (ts.isClassDeclaration(st) && st.name && decoratorNames(st).includes('object')) objects.set(st.name.text, st);
  }
  return objects;
}

const funcsOf = (cls: ts.ClassDeclaration) =>
  cls.members.filter((m): m is ts.MethodDeclaration => ts.isMethodDeclaration(m) && decoratorNames(m).includes('func'));

/** `path`: the root object's file (dagger/src/index.ts); its directory holds the area objects. */
export function readDaggerModule(path: string): DaggerModule {
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true);
  const roots = source.statements.filter(
    (s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && decoratorNames(s).includes('object'),
  );
  if (roots.length !== 1) throw new Error(`${path}: expected one @object() class, found ${roots.length}`);
  const root = roots[0]!;
  const ctor = root.members.find(ts.isConstructorDeclaration);
  const enums = readEnums(dirname(path));
  const objects = readObjects(dirname(path));
  const functions = new Map<string, DaggerFunction>();
  for (const m of funcsOf(root)) {
    const name = kebab(m.name.getText());
    // An accessor returning an area object: its functions are called as `<accessor> <function>`.
    const area = m.type ? objects.get(m.type.getText()) : undefined;
    if (!area) {
      functions.set(name, { name, params: paramsOf(m.parameters, enums) });
      continue;
    }
    for (const f of funcsOf(area)) {
      const path = `${name} ${kebab(f.name.getText())}`;
      functions.set(path, { name: path, params: paramsOf(f.parameters, enums) });
    }
  }
  return { constructorParams: ctor ? paramsOf(ctor.parameters, enums) : [], functions };
}

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
