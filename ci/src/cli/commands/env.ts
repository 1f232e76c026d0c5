import type { Command } from 'commander';
import { stringify } from 'yaml';
import { getEnvironment, ENVIRONMENT_NAMES, type EnvironmentDefinition } from '../../definitions/environments.js';
import { writeLine, type CliIo } from '../io.js';
import { envArgument } from '../options.js';

export function register(program: Command, io: CliIo): void {
  const env = program.command('env').description('The environment definitions (ci/src/definitions/environments.ts)');
  env
    .command('show')
    .description("Print one environment's definition")
    .addArgument(envArgument())
    .option('--json', 'print JSON instead of YAML')
    .action((def: EnvironmentDefinition, opts: { json?: boolean }) => {
      writeLine(io.stdout, opts.json ? JSON.stringify(def, null, 2) : stringify(def).trimEnd());
    });
  env
    .command('list')
    .description('List the environments and what deploys to each')
    .action(() => {
      for (const name of ENVIRONMENT_NAMES) {
        const d = getEnvironment(name);
        const trig =
          d.trigger.kind === 'branch'
            ? `push to ${d.trigger.pattern}`
            : `tag ${d.trigger.pattern} on ${d.trigger.reachableFrom}`;
        writeLine(io.stdout, `${name.padEnd(8)} ${trig.padEnd(22)} ${d.url}`);
      }
    });
}
