import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { FailedError, UsageError } from '../../definitions/errors.js';
import { writeLine, type CliIo } from '../io.js';

export function register(program: Command, io: CliIo): void {
  program
    .command('sbom')
    .description(
      "CycloneDX SBOM of the npm packages in a directory tree (an image's filesystem): what `release --sbom` attaches",
    )
    .requiredOption('--dir <path>', 'the tree to walk (the Dagger release function mounts the promoted image here)')
    .requiredOption('--out <file>', 'where the CycloneDX JSON goes')
    .option('--version <ref>', 'what the SBOM describes, e.g. the image digest reference')
    .action(async (opts: { dir: string; out: string; version?: string }) => {
      const dir = resolve(io.cwd, opts.dir);
      const info = await stat(dir).catch(() => undefined);
      if (!info?.isDirectory()) throw new UsageError(`--dir ${dir} is not a directory`);
      const { sbomOfDirectory } = await import('../../verify/scan/sbom.js');
      const sbom = await sbomOfDirectory(dir, {
        name: 'kgraph-mcp',
        type: 'container',
        ...(opts.version ? { version: opts.version } : {}),
      });
      // An image without the app's packages is the wrong tree, not an empty bill of materials.
      if (sbom.packages.length === 0) throw new FailedError(`no npm packages under ${dir}: not the service image`);
      const out = resolve(io.cwd, opts.out);
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, sbom.json, 'utf8');
      writeLine(io.stdout, `${out}: ${sbom.packages.length} packages`);
    });
}
