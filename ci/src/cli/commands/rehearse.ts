import type { Command } from 'commander';
import { FailedError, UsageError } from '../../definitions/errors.js';
import { dockerCli } from '../../verify/image/docker.js';
import { join } from 'node:path';
import { REPO_ROOT } from '../../platform/repo-root.js';
import { parseCall } from '../../verify/rehearse/call.js';
import { rehearse, type RehearsalResult } from '../../verify/rehearse/run.js';
import { readSurface } from '../../verify/rehearse/surface.js';
import { workflowCalls, type WorkflowCall } from '../../verify/rehearse/workflows.js';
import { writeLine, type CliIo } from '../io.js';

/** Our own flags, taken out of the words wherever they stand; everything else is the `dagger call`. */
function ownFlags(words: readonly string[]): { words: string[]; node?: string; cache: boolean; json: boolean } {
  const rest: string[] = [];
  let node: string | undefined;
  let cache = true;
  let json = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--node') {
      node = words[++i];
      if (node === undefined) throw new UsageError('--node needs a value: 22 or 24');
    } else if (w.startsWith('--node=')) node = w.slice('--node='.length);
    else if (w === '--no-cache') cache = false;
    else if (w === '--json') json = true;
    else rest.push(w);
  }
  return { words: rest, ...(node !== undefined ? { node } : {}), cache, json };
}

export function describeResult(r: RehearsalResult): string {
  return `${r.outcome.toUpperCase()} dagger call ${r.fn} on Node ${r.node} in ${r.seconds.toFixed(1)} s: ${r.detail}`;
}

interface WorkflowsCliOptions {
  run?: boolean;
  /** false with --no-cache */
  cache: boolean;
}

/** `rehearse dagger <words...>`: one `dagger call` rehearsed; exit 1 when it failed. */
async function runDagger(given: string[], io: CliIo): Promise<void> {
  const { words, node, cache, json } = ownFlags(given);
  if (node !== undefined && !['22', '24'].includes(node)) throw new UsageError(`--node ${node}: expected 22 or 24`);
  const result = await rehearse({
    words,
    ...(node !== undefined ? { node } : {}),
    cache,
    docker: dockerCli(io.env),
    log: (line) => writeLine(io.stderr, line),
  });
  writeLine(io.stdout, json ? JSON.stringify(result) : describeResult(result));
  if (result.outcome === 'failed') throw new FailedError(`rehearsal of ${result.fn} failed`);
}

/** Every workflow call bound to the module's surface, each said; any that does not bind is bad usage (exit 2). */
function bindWorkflowCalls(io: CliIo): WorkflowCall[] {
  const surface = readSurface(join(REPO_ROOT, 'dagger/src'));
  const calls = workflowCalls(REPO_ROOT);
  const problems: string[] = [];
  for (const c of calls) {
    try {
      const parsed = parseCall(surface, c.words);
      writeLine(
        io.stdout,
        `bound ${c.where}: ${parsed.key} ${[...parsed.flags.keys()].map((f) => `--${f}`).join(' ')}`,
      );
    } catch (err) {
      problems.push(`${c.where}: ${err instanceof Error ? err.message : String(err)} (call: ${c.written})`);
    }
  }
  if (problems.length > 0) throw new UsageError(`workflow calls the module does not take:\n${problems.join('\n')}`);
  writeLine(io.stdout, `${calls.length} workflow calls bind to the module`);
  return calls;
}

/** Each bound call rehearsed in turn; exit 1 when any failed. */
async function rehearseEach(calls: readonly WorkflowCall[], cache: boolean, io: CliIo): Promise<void> {
  let failed = 0;
  for (const c of calls) {
    const result = await rehearse({
      words: c.words,
      cache,
      docker: dockerCli(io.env),
      log: (line) => writeLine(io.stderr, line),
    });
    writeLine(io.stdout, `${c.where}: ${describeResult(result)}`);
    if (result.outcome === 'failed') failed++;
  }
  if (failed > 0) throw new FailedError(`${failed} of ${calls.length} workflow calls failed their rehearsal`);
}

async function runWorkflows(opts: WorkflowsCliOptions, io: CliIo): Promise<void> {
  const calls = bindWorkflowCalls(io);
  if (opts.run) await rehearseEach(calls, opts.cache, io);
}

export function register(program: Command, io: CliIo): void {
  const cmd = program
    .command('rehearse')
    .description('Run the Dagger module for real on the local Docker engine (stand-in images, no pulls)');
  cmd
    .command('dagger')
    .description(
      'kgraph-ci rehearse dagger <function> [args] [--node 22|24] [--no-cache] [--json]: the queries the SDK sends for ' +
        'that `dagger call`, executed on Docker; passed, reached (a push, trivy, the first kubectl call) or failed',
    )
    .argument('<words...>', 'what follows `dagger call`')
    .allowUnknownOption()
    .helpOption(false)
    .action((given: string[]) => runDagger(given, io));
  cmd
    .command('workflows')
    .description(
      "Every workflow `call:` with test values for GitHub's: bound to the module's functions and flags (a flag the " +
        'function does not take exits 2 before anything runs); with --run, each one rehearsed',
    )
    .option('--run', 'rehearse each call on Docker after binding all of them')
    .option('--no-cache', 'do not reuse exec results of earlier rehearsals')
    .action((opts: WorkflowsCliOptions) => runWorkflows(opts, io));
}
