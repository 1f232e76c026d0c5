/**
 * The Dagger module's call surface read from its source with the TypeScript compiler API (nothing is
 * loaded): the root object's constructor arguments, its functions and those of the area objects its
 * accessors return, each argument with its type, optionality and enum members, as the CLI spells them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

export interface Param {
  readonly name: string;
  /** The CLI flag: kebab-case of the name. */
  readonly flag: string;
  /** `string`, `number`, `boolean`, `Secret`, `Directory`, `File`, or an enum name. */
  readonly type: string;
  readonly required: boolean;
  readonly choices?: readonly string[];
  /** A Directory argument with `@argument({ defaultPath, ignore })`: what the engine leaves out. */
  readonly defaultPath?: string;
  readonly ignore?: readonly string[];
}
export interface Fn {
  /** `lint`, `delivery deploy`. */
  readonly path: readonly string[];
  readonly params: readonly Param[];
  /** The area accessor's own parameters (`delivery(repo)`): the engine fills their defaultPath, so the rehearsal does. */
  readonly accessorParams?: readonly Param[];
  readonly returns: string;
}
export interface Surface {
  readonly rootClass: string;
  readonly constructorParams: readonly Param[];
  readonly functions: ReadonlyMap<string, Fn>;
}

export const kebab = (s: string): string => s.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

const decorators = (node: ts.Node): string[] =>
  (ts.canHaveDecorators(node) ? (ts.getDecorators(node) ?? []) : []).map((d) => {
    const e = d.expression;
    return ts.isCallExpression(e) ? e.expression.getText() : e.getText();
  });

/** `@argument({ defaultPath: '/', ignore: [...] })` read from its literal text. */
function argumentOptions(p: ts.ParameterDeclaration): { defaultPath?: string; ignore?: string[] } {
  for (const d of ts.getDecorators(p) ?? []) {
    if (!ts.isCallExpression(d.expression) || d.expression.expression.getText() !== 'argument') continue;
    const text = d.expression.arguments.map((a) => a.getText()).join(',');
    const path = /defaultPath:\s*'([^']*)'/.exec(text)?.[1];
    const ignore = /ignore:\s*\[([^\]]*)\]/.exec(text)?.[1];
    return {
      ...(path !== undefined ? { defaultPath: path } : {}),
      ...(ignore !== undefined ? { ignore: [...ignore.matchAll(/'([^']*)'/g)].map((m) => m[1]!) } : {}),
    };
  }
  return {};
}

function sources(dir: string): ts.SourceFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ts.createSourceFile(f, readFileSync(join(dir, f), 'utf8'), ts.ScriptTarget.ES2022, true));
}

/** The type the SDK infers from an unannotated parameter's default (`x = false` is a boolean flag). */
function literalType(init: ts.Expression | undefined): string {
  if (!init) return 'unknown';
  if (ts.isStringLiteral(init) || ts.isNoSubstitutionTemplateLiteral(init)) return 'string';
  if (init.kind === ts.SyntaxKind.TrueKeyword || init.kind === ts.SyntaxKind.FalseKeyword) return 'boolean';
  if (ts.isNumericLiteral(init)) return 'number';
  return 'unknown';
}

export function readSurface(srcDir: string): Surface {
  const files = sources(srcDir);
  const enums = new Map<string, string[]>();
  const objects = new Map<string, ts.ClassDeclaration>();
  for (const f of files)
    for (const st of f.statements) {
      if (ts.isEnumDeclaration(st))
        enums.set(
          st.name.text,
          st.members.map((m) => m.name.getText()),
        );
      if (ts.isClassDeclaration(st) && st.name && decorators(st).includes('object')) objects.set(st.name.text, st);
    }
  const index = files.find((f) => f.fileName === 'index.ts');
  const root = index?.statements.find(
    (s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && decorators(s).includes('object'),
  );
  if (!root?.name) throw new Error(`${srcDir}/index.ts has no @object() class`);
  const params = (ps: ts.NodeArray<ts.ParameterDeclaration>): Param[] =>
    ps.map((p) => {
      const type = p.type?.getText() ?? literalType(p.initializer);
      const choices = enums.get(type);
      const opts = argumentOptions(p);
      return {
        name: p.name.getText(),
        flag: kebab(p.name.getText()),
        type,
        required: !p.initializer && !p.questionToken && opts.defaultPath === undefined,
        ...(choices ? { choices } : {}),
        ...opts,
      };
    });
  const funcs = (cls: ts.ClassDeclaration) =>
    cls.members.filter((m): m is ts.MethodDeclaration => ts.isMethodDeclaration(m) && decorators(m).includes('func'));
  const returns = (m: ts.MethodDeclaration) => (m.type?.getText() ?? 'void').replace(/^Promise<(.*)>$/, '$1');
  const functions = new Map<string, Fn>();
  for (const m of funcs(root)) {
    const area = objects.get(returns(m));
    if (!area) {
      functions.set(kebab(m.name.getText()), {
        path: [m.name.getText()],
        params: params(m.parameters),
        returns: returns(m),
      });
      continue;
    }
    for (const f of funcs(area)) {
      const key = `${kebab(m.name.getText())} ${kebab(f.name.getText())}`;
      functions.set(key, {
        path: [m.name.getText(), f.name.getText()],
        params: params(f.parameters),
        accessorParams: params(m.parameters),
        returns: returns(f),
      });
    }
  }
  const ctor = root.members.find(ts.isConstructorDeclaration);
  return { rootClass: root.name.text, constructorParams: ctor ? params(ctor.parameters) : [], functions };
}

/** Whether the CLI takes `value` for an enum: member names in upper snake case, matched ignoring case. */
export function enumMember(choices: readonly string[], value: string): string | undefined {
  const engineName = (n: string) =>
    /^[A-Z][A-Z0-9_]*$/.test(n) ? n : n.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
  return choices.find((c) => engineName(c).toLowerCase() === value.toLowerCase());
}
