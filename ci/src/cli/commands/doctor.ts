import type { Command } from 'commander';
import { FailedError } from '../../definitions/errors.js';
import { table } from '../../platform/report/markdown.js';
import { appendJobSummary } from '../../platform/report/summary.js';
import { writeJsonReport } from '../../verify/runner/report.js';
import { resolve } from 'node:path';
import { writeLine, type CliIo } from '../io.js';

export function register(program: Command, io: CliIo): void {
  program
    .command('doctor')
    .description(
      'Check this machine for the pipeline: Node against the lockfile, Postgres, Redis, the Docker engine and base images, the advisory service, GITHUB_TOKEN, the kubectl context; exit 1 when one fails',
    )
    .option('--json <file>', 'also write the lines as JSON')
    .action(async (opts: { json?: string }) => {
      const { doctorOk, formatDoctorLine, runDoctor } = await import('../../operate/doctor/index.js');
      const lines = await runDoctor({ env: io.env, root: io.cwd });
      for (const l of lines) writeLine(io.stdout, formatDoctorLine(l));
      if (opts.json) await writeJsonReport(resolve(io.cwd, opts.json), { version: 1, lines });
      await appendJobSummary(
        `### kgraph-ci doctor\n\n${table(
          ['check', 'status', 'detail', 'fix'],
          lines.map((l) => [l.name, l.status, l.detail, l.fix ?? '']),
        )}`,
        io.env,
      );
      const failed = lines.filter((l) => l.status === 'fail').map((l) => l.name);
      if (!doctorOk(lines)) throw new FailedError(`doctor: ${failed.join(', ')} failed (fixes above)`);
      writeLine(io.stdout, `doctor: ok (${lines.filter((l) => l.status === 'warn').length} warning(s))`);
    });
}
