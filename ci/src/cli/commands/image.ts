/** `kgraph-ci image build`: the build step (TypeScript, then the image when an engine answers). */
import { resolve } from 'node:path';
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { FailedError, UsageError } from '../../definitions/errors.js';
import { isPass } from '../../definitions/verdict.js';
import { dockerCli } from '../../verify/image/docker.js';
import {
  DEFAULT_IMAGE_REPORT,
  imageFacts,
  imageSummary,
  runBuildStep,
  runStreaming,
  standinMaker,
} from '../../verify/image/step.js';
import { writeJsonReport } from '../../verify/runner/report.js';
import { STEPS } from '../../definitions/steps.js';
import { writeLine, type CliIo } from '../io.js';
import { parseEnvironment } from '../options.js';

export function register(program: Command, io: CliIo): void {
  const image = program.command('image').description('The service image (app/Dockerfile)');
  image
    .command('build')
    .description(
      'Compile the TypeScript, then build the image when a container engine answers (says so plainly when none does)',
    )
    .option('--env <name>', 'environment the image is built for (build argument ENVIRONMENT)', 'dev')
    .option('--tag <ref>', 'local tag (default kgraph-mcp:<env>)')
    .option('--report <file>', `JSON report (default ${DEFAULT_IMAGE_REPORT})`, DEFAULT_IMAGE_REPORT)
    .action(async (o: { env: string; tag?: string; report: string }) => {
      const env = parseEnvironment(o.env);
      const spec = STEPS.build.image;
      if (!spec) throw new UsageError('the build step has no image in the step table');
      const log = (line: string) => writeLine(io.stderr, line);
      let report;
      try {
        report = await runBuildStep({
          root: io.cwd,
          spec,
          params: { env: env.name },
          docker: dockerCli(io.env),
          makeStandin: standinMaker(io.env, log),
          buildTypescript: () => runStreaming(['npm', 'run', 'build', '-w', 'app'], { cwd: io.cwd, env: io.env, log }),
          log,
          ...(o.tag ? { tag: o.tag } : {}),
        });
      } catch (err) {
        throw new FailedError(`build failed: ${(err as Error).message}`);
      }
      await writeJsonReport(resolve(io.cwd, o.report), report);
      if (io.env.KGRAPH_STEP_FACTS) await writeFile(io.env.KGRAPH_STEP_FACTS, JSON.stringify(imageFacts(report)));
      for (const line of imageSummary(report)) writeLine(io.stdout, line);
      if (report.built && !isPass(report.size))
        throw new FailedError(`image over its size budget: ${report.size.reasons.join('; ')}`);
    });
}
