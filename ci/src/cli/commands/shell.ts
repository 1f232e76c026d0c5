import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { FailedError, UsageError } from '../../definitions/errors.js';
import { findStep } from '../../definitions/steps.js';
import { newRunId } from '../../platform/services/ephemeral.js';
import { runProcess, startProcess } from '../../platform/process/run.js';
import {
  ephemeralProvider,
  externalProvider,
  servicesModeFromEnv,
  type ServiceLease,
} from '../../verify/runner/services.js';
import { writeLine, type CliIo } from '../io.js';

/**
 * `kgraph-ci shell <step>`: the host twin of `dagger call debug terminal`. Opens $SHELL with the
 * step's environment and its own fresh services, removed when the shell exits (unless --keep).
 */
export function register(program: Command, io: CliIo): void {
  program
    .command('shell')
    .description("Open $SHELL with a step's environment and fresh services (removed on exit)")
    .argument('<step>', 'step name or cliName')
    .option('-c, --command <cmd>', 'run this command in the shell instead of an interactive session')
    .option('--keep', 'keep the services after the shell exits')
    .option('--no-services', 'use DATABASE_URL / REDIS_URL as given (also KGRAPH_SERVICES=external)')
    .action(async (name: string, opts: { command?: string; keep?: boolean; services: boolean }) => {
      const step = findStep(name);
      if (!step) throw new UsageError(`unknown step "${name}"`);
      const mode = opts.services === false ? 'external' : (servicesModeFromEnv(io.env) ?? 'ephemeral');
      const provider = mode === 'external' ? externalProvider(io.env) : ephemeralProvider(io.env);
      const runId = newRunId();
      let lease: ServiceLease | undefined;
      if (step.services.length > 0) lease = await provider.lease(step.services, runId);
      const shell = io.env.SHELL || '/bin/sh';
      const env = {
        ...io.env,
        ...step.env,
        ...lease?.env,
        KGRAPH_RUN_ID: runId,
        KGRAPH_TEST_RUN_ID: runId,
        KGRAPH_STEP: step.name,
      };
      writeLine(
        io.stderr,
        `kgraph-ci shell: ${step.name} (${shell}); env: ${Object.keys({ ...step.env, ...lease?.env }).join(', ') || 'none'}`,
      );
      for (const d of lease?.describe ?? []) writeLine(io.stderr, `  ${d}`);
      // Ctrl-C belongs to the shell while it runs; we clean up once it exits.
      const ignore = () => undefined;
      process.on('SIGINT', ignore);
      let code: number | null;
      try {
        if (shell.startsWith('/') && !existsSync(shell)) throw new UsageError(`cannot start ${shell}: no such file`);
        const argv = opts.command !== undefined ? [shell, '-c', opts.command] : [shell];
        if (opts.command === undefined) {
          code = (await runProcess({ argv, cwd: io.cwd, env, stdio: 'inherit' })).exitCode;
        } else {
          const child = await startProcess({ argv, cwd: io.cwd, env, input: '' });
          child.stdout.on('data', (d: Buffer) => io.stdout.write(d));
          child.stderr.on('data', (d: Buffer) => io.stderr.write(d));
          code = (await child.done).exitCode;
        }
      } finally {
        process.off('SIGINT', ignore);
        if (lease && !opts.keep) {
          await lease.dispose();
          if (mode === 'ephemeral') await provider.sweep(runId).catch(() => undefined);
        } else if (lease) writeLine(io.stderr, `services kept; remove with \`kgraph-ci run --sweep ${runId}\``);
      }
      if (code !== 0) throw new FailedError(`shell exited with ${code ?? 'a signal'}`);
    });
}
