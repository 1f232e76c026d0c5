/**
 * Every `call:` a workflow hands to dagger-for-github, with the values GitHub would fill in replaced by test
 * values (`${{ github.sha }}`, the step's env such as "$IMAGE"; a matrix runs once per value), split into
 * words as bash would: what `kgraph-ci rehearse workflows` binds to the module and, with --run, rehearses.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export interface WorkflowCall {
  /** `deploy-prod.yml deploy#2`. */
  readonly where: string;
  /** The call as written. */
  readonly written: string;
  /** The words dagger would get. */
  readonly words: readonly string[];
}

/** Test values for the expressions and variables the workflows use; an unknown one fails by name. */
const COMMIT = 'c0ffee0'.padEnd(40, '0');
const DIGEST_REF = `ghcr.io/kgraph-mcp/kgraph-mcp@sha256:${'a'.repeat(64)}`;
const EXPRESSIONS: Record<string, string> = {
  'github.repository': 'kgraph-mcp/kgraph-mcp',
  'github.sha': COMMIT,
  'github.actor': 'kgraph-bot',
  'inputs.environment': 'staging',
};
const VARIABLES: Record<string, string> = {
  IMAGE: DIGEST_REF,
  TREE: 'e'.repeat(40),
  TAG: 'v1.2.3',
  VERSION: 'v1.2.2',
  SOURCE_BRANCH: 'feature/rehearsal',
  TARGET_BRANCH: 'develop',
};

interface Step {
  readonly uses?: string;
  readonly with?: { readonly call?: string };
}
interface Workflow {
  readonly jobs: Record<
    string,
    { readonly steps?: Step[]; readonly strategy?: { readonly matrix?: Record<string, unknown> } }
  >;
}

/** bash word splitting of one line with "…" quoting and $VAR expansion (what the action's script does). */
export function shellWords(line: string, vars: Readonly<Record<string, string>>): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '"') {
      quoted = !quoted;
      inWord = true;
    } else if (c === '$' && /[A-Z_]/.test(line[i + 1] ?? '')) {
      const name = /^[A-Z_][A-Z0-9_]*/.exec(line.slice(i + 1))![0];
      const value = vars[name];
      if (value === undefined) throw new Error(`no test value for $${name}`);
      cur += value;
      inWord = true;
      i += name.length;
    } else if (/\s/.test(c) && !quoted) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

export function workflowCalls(root: string): WorkflowCall[] {
  const dir = join(root, '.github/workflows');
  const out: WorkflowCall[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .sort()) {
    const wf = parse(readFileSync(join(dir, file), 'utf8')) as Workflow;
    for (const [job, def] of Object.entries(wf.jobs)) {
      const matrix = (def.strategy?.matrix ?? {}) as Record<string, unknown[]>;
      (def.steps ?? []).forEach((step, i) => {
        const written = step.with?.call;
        if (!step.uses?.startsWith('dagger/dagger-for-github') || !written) return;
        const nodes = /\$\{\{\s*matrix\.node\s*\}\}/.test(written) ? (matrix.node ?? []).map(String) : [undefined];
        for (const node of nodes) {
          const filled = written.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (whole, expr: string) => {
            if (expr === 'matrix.node' && node) return node;
            const value = EXPRESSIONS[expr];
            if (value === undefined) throw new Error(`${file} ${job}: no test value for ${whole}`);
            return value;
          });
          out.push({
            where: `${file} ${job}#${i + 1}${node ? ` (node ${node})` : ''}`,
            written,
            words: shellWords(filled, VARIABLES),
          });
        }
      });
    }
  }
  return out;
}
