/**
 * The kgraph-ci program. Each command lives in commands/<name>.ts and registers itself here; a thrown
 * UsageError ends in exit 2, any other failure in exit 1, both with one line on stderr.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { EXIT_OK, EXIT_USAGE, exitCodeOf, messageOf } from '../definitions/errors.js';
import { processIo, writeLine, type CliIo } from './io.js';
import { register as registerBackup } from './commands/backup.js';
import { register as registerChecklist } from './commands/checklist.js';
import { register as registerDeploy } from './commands/deploy.js';
import { register as registerDoctor } from './commands/doctor.js';
import { register as registerEnv } from './commands/env.js';
import { register as registerGenerate } from './commands/generate.js';
import { register as registerGate } from './commands/gate.js';
import { register as registerGithub } from './commands/github.js';
import { register as registerImage } from './commands/image.js';
import { register as registerMigrations } from './commands/migrations.js';
import { register as registerMigrationsCompat } from './commands/migrations-compat.js';
import { register as registerPolicy } from './commands/policy.js';
import { register as registerPromotion } from './commands/promotion.js';
import { register as registerRehearse } from './commands/rehearse.js';
import { register as registerRehearseRollout } from './commands/rehearse-rollout.js';
import { register as registerRelease } from './commands/release.js';
import { register as registerReport } from './commands/report.js';
import { register as registerRollback } from './commands/rollback.js';
import { register as registerRun } from './commands/run.js';
import { register as registerSbom } from './commands/sbom.js';
import { register as registerScan } from './commands/scan.js';
import { register as registerShell } from './commands/shell.js';
import { register as registerTrain } from './commands/train.js';
import { register as registerWatch } from './commands/watch.js';

type Registrar = (program: Command, io: CliIo) => void;

/** One line per command module; keep alphabetical so parallel edits merge cleanly. */
const registrars: Registrar[] = [
  registerBackup,
  registerChecklist,
  registerDeploy,
  registerDoctor,
  registerEnv,
  registerGate,
  registerGenerate,
  registerGithub,
  registerImage,
  registerMigrations,
  registerMigrationsCompat,
  registerPolicy,
  registerPromotion,
  registerRehearse,
  registerRehearseRollout,
  registerRelease,
  registerReport,
  registerRollback,
  registerRun,
  registerSbom,
  registerScan,
  registerShell,
  registerTrain,
  registerWatch,
];

/** `kgraph-ci --version`: the CLI package's version and the Node running it (what a bug report needs). */
export function versionLine(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return `kgraph-ci ${pkg.version} (node ${process.version}, ${process.platform}-${process.arch})`;
}

export function buildProgram(io: CliIo = processIo()): Command {
  const program = new Command('kgraph-ci')
    .description('The KGraph-MCP pipeline: steps, policy, environments, gates, delivery')
    // Not commander's .version(): its global --version would take `deploy --version v1.2.3` for itself.
    .addHelpText('after', '\nkgraph-ci --version (or -V) prints the version of kgraph-ci and of Node.')
    // Program options only before the command: `deploy --version v1.2.3` is deploy's --version, not ours.
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  for (const register of registrars) register(program, io);
  // Subcommands inherit exit/output behaviour so their usage errors also become exit 2.
  const inherit = (cmd: Command) => {
    for (const sub of cmd.commands) {
      sub.exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
      sub.showHelpAfterError();
      inherit(sub);
    }
  };
  inherit(program);
  return program;
}

/** Runs argv (without node and script) and returns the exit code instead of exiting. */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    writeLine(io.stdout, versionLine());
    return EXIT_OK;
  }
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version surface as "errors" with exit code 0.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    writeLine(io.stderr, `kgraph-ci: ${messageOf(err)}`);
    return exitCodeOf(err);
  }
}
