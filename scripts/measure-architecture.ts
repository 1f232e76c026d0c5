/**
 * Architecture figures for a before/after comparison (issue 14):
 *   npx tsx scripts/measure-architecture.ts [--out FILE] [--no-duplicates] [--root DIR]
 * import cycles and layer violations (dependency-cruiser with .dependency-cruiser.cjs), the 15 longest functions
 * (TypeScript compiler API), `duplicates --most 40` when that command is on PATH, and lines of code per folder.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const here = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
// --root measures another checkout (for example main before a change) with this checkout's tools and rules.
const root = resolve(option('--root') ?? here);
const outFile = option('--out');
const withDuplicates = !args.includes('--no-duplicates');

/** TypeScript source git tracks (plus untracked, not ignored), without generated SDKs and vendored files. */
function sourceFiles(): string[] {
  const out = execFileSync(
    'git',
    ['ls-files', '--cached', '--others', '--exclude-standard', '--', '*.ts', '*.js', '*.cjs', '*.mjs'],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  return out
    .split('\n')
    .filter((f) => f && !/(^|\/)(node_modules|dist|sdk)\//.test(f))
    .filter((f, i, all) => all.indexOf(f) === i);
}

interface Violation {
  rule: string;
  from: string;
  to: string;
  cycle?: string[] | undefined;
}

function dependencyViolations(): Violation[] {
  const result = spawnSync(
    process.execPath,
    [
      join(here, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs'),
      ...['ci', 'app', 'dagger/src', 'bench', 'testkit', 'scripts'].filter((dir) => existsSync(join(root, dir))),
      ...['--config', join(here, '.dependency-cruiser.cjs'), '--output-type', 'json'],
    ],
    { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  if (!result.stdout) throw new Error(`dependency-cruiser gave no output: ${result.stderr}`);
  const json = JSON.parse(result.stdout) as {
    summary: { violations: { rule: { name: string }; from: string; to: string; cycle?: { name: string }[] }[] };
  };
  return json.summary.violations.map((v) => ({
    rule: v.rule.name,
    from: v.from,
    to: v.to,
    cycle: v.cycle?.map((c) => c.name),
  }));
}

interface FunctionLength {
  file: string;
  line: number;
  name: string;
  lines: number;
  /** The function says why it is long: an "Over 60 lines: why" comment on one of the three lines above it. */
  reason: boolean;
}

const LONG = 60;

function functionLengths(files: readonly string[]): FunctionLength[] {
  const found: FunctionLength[] = [];
  for (const file of files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.generated.ts'))) {
    const text = readFileSync(join(root, file), 'utf8');
    const textLines = text.split('\n');
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node) => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
        const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
        const above = textLines.slice(Math.max(0, start - 3), start).join('\n');
        const reason = /\/\/.*over 60 lines:/i.test(above);
        found.push({ file, line: start + 1, name: functionName(node, source), lines: end - start + 1, reason });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found.sort((a, b) => b.lines - a.lines);
}

function functionName(node: ts.Node, source: ts.SourceFile): string {
  const named = node as { name?: ts.Node };
  if (named.name) return named.name.getText(source);
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent)) return parent.name.getText(source);
  if (parent && ts.isPropertyAssignment(parent)) return parent.name.getText(source);
  if (parent && ts.isCallExpression(parent)) {
    const callee = parent.expression;
    return `(callback of ${ts.isPropertyAccessExpression(callee) ? `.${callee.name.text}` : callee.getText(source).slice(0, 40)})`;
  }
  return '(anonymous)';
}

/** Non-blank lines that are not only a comment, per folder (two levels: app/src, ci/src/verify/runner, ...). */
function linesPerFolder(files: readonly string[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const file of files) {
    const parts = file.split('/');
    const folder =
      parts.length <= 1
        ? '.'
        : parts.slice(0, Math.min(parts.length - 1, parts[0] === 'ci' || parts[0] === 'app' ? 3 : 2)).join('/');
    const lines = readFileSync(join(root, file), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('//') && !l.startsWith('*') && !l.startsWith('/*')).length;
    counts.set(folder, (counts.get(folder) ?? 0) + lines);
  }
  return [...counts.entries()].sort((a, b) => a[0].localeCompare(b[0]));
}

function duplicates(): string {
  const result = spawnSync('duplicates', ['--most', '40', '--seconds', '120'], { cwd: root, encoding: 'utf8' });
  if (result.error) return `duplicates not available: ${result.error.message}`;
  return result.stdout.trim();
}

const files = sourceFiles();
const violations = dependencyViolations();
const cycles = violations.filter((v) => v.rule === 'no-circular');
const layers = violations.filter((v) => v.rule !== 'no-circular');
const allFunctions = functionLengths(files);
const longest = allFunctions.slice(0, 15);
const isTest = (f: string) => /(^|\/)(test|testkit|bench)\//.test(f) || f.endsWith('.test.ts');
const longestSource = allFunctions.filter((f) => !isTest(f.file)).slice(0, 15);
const loc = linesPerFolder(files);
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();

const lines: string[] = [];
lines.push(`# Architecture figures at ${commit} (${new Date().toISOString()})`, '');
lines.push(`## Import cycles: ${cycles.length}`, '');
for (const c of cycles) lines.push(`- ${(c.cycle ? [c.from, ...c.cycle] : [c.from, c.to]).join(' -> ')}`);
lines.push('', `## Imports from a lower layer up (and other forbidden imports): ${layers.length}`, '');
for (const v of layers) lines.push(`- ${v.rule}: ${v.from} -> ${v.to}`);
lines.push('', '## The 15 longest functions', '', '| lines | function | where |', '| ---: | --- | --- |');
for (const f of longest) lines.push(`| ${f.lines} | ${f.name} | ${f.file}:${f.line} |`);
lines.push(
  '',
  '## The 15 longest functions outside tests, benches and testkit',
  '',
  '| lines | function | where |',
  '| ---: | --- | --- |',
);
for (const f of longestSource) lines.push(`| ${f.lines} | ${f.name} | ${f.file}:${f.line} |`);
const overSource = allFunctions.filter((f) => !isTest(f.file) && f.lines > LONG);
const unexplained = overSource.filter((f) => !f.reason);
lines.push(
  '',
  `## Functions over ${LONG} lines outside tests, benches and testkit: ${overSource.length} (${unexplained.length} without a stated reason)`,
  '',
);
for (const f of overSource)
  lines.push(`- ${f.lines} ${f.name} ${f.file}:${f.line}${f.reason ? ' (reason stated)' : ''}`);
const total = loc.reduce((sum, [, n]) => sum + n, 0);
lines.push(
  '',
  `## Lines of code per folder (non-blank, non-comment; .ts/.js): ${total}`,
  '',
  '| folder | lines |',
  '| --- | ---: |',
);
for (const [folder, n] of loc) lines.push(`| ${folder} | ${n} |`);
if (withDuplicates) lines.push('', '## duplicates --most 40', '', '```', duplicates(), '```');
const text = `${lines.join('\n')}\n`;
if (outFile) writeFileSync(outFile, text);
process.stdout.write(text);
