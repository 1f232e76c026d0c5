/** `kgraph-ci generate [--check]`: one generator for overlays, alert rules and the Dagger tables. */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/program.js';
import { ENVIRONMENTS } from '../../../src/definitions/environments.js';
import { generatedFiles, staleFiles } from '../../../src/cli/generate/files.js';
import { REPO_ROOT } from '../../../src/platform/repo-root.js';
import { captureIo, useTempDirs } from '../io.js';

const emptyRoot = useTempDirs('kgraph-generate-');

describe('kgraph-ci generate', () => {
  it('--check passes on the committed tree', async () => {
    const io = captureIo();
    expect(await runCli(['generate', '--check'], io), io.err()).toBe(0);
    expect(io.out()).toMatch(/generated files match/);
  });

  it('covers the overlays, the alert rules and the Dagger tables', () => {
    const paths = [...generatedFiles().keys()];
    for (const name of Object.keys(ENVIRONMENTS)) {
      expect(paths).toContain(`k8s/overlays/${name}/kustomization.yaml`);
      expect(paths).toContain(`k8s/components/alerts/${name}/prometheusrule.yaml`);
    }
    expect(paths).toContain('dagger/src/ci.generated.ts');
  });

  it('writes into an empty tree exactly what is committed: the output does not depend on what exists', async () => {
    const root = emptyRoot();
    const io = captureIo();
    expect(await runCli(['generate', '--root', root], io)).toBe(0);
    for (const path of generatedFiles().keys())
      expect(readFileSync(join(root, path), 'utf8'), path).toBe(readFileSync(join(REPO_ROOT, path), 'utf8'));
    // Every overlay includes its alert rules even though nothing existed before.
    expect(readFileSync(join(root, 'k8s/overlays/dev/kustomization.yaml'), 'utf8')).toContain(
      '../../components/alerts/dev',
    );
    const again = captureIo();
    expect(await runCli(['generate', '--root', root], again)).toBe(0);
    expect(again.out()).toMatch(/already up to date/);
  });

  it('--check names a changed, a missing and a no-longer-generated file (exit 1); generate repairs all three', async () => {
    const root = emptyRoot();
    for (const path of generatedFiles().keys()) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      cpSync(join(REPO_ROOT, path), join(root, path));
    }
    writeFileSync(join(root, 'k8s/components/alerts/prod/prometheusrule.yaml'), 'edited by hand\n');
    rmSync(join(root, 'dagger/src/ci.generated.ts'));
    mkdirSync(join(root, 'k8s/overlays/qa'), { recursive: true });
    writeFileSync(join(root, 'k8s/overlays/qa/kustomization.yaml'), 'an environment that no longer exists\n');
    const io = captureIo();
    expect(await runCli(['generate', '--check', '--root', root], io)).toBe(1);
    expect(io.err()).toMatch(
      /out of date: k8s\/components\/alerts\/prod\/prometheusrule.yaml, dagger\/src\/ci.generated.ts; no longer generated: k8s\/overlays\/qa\/kustomization.yaml/,
    );
    // --check writes nothing.
    expect(existsSync(join(root, 'dagger/src/ci.generated.ts'))).toBe(false);
    const write = captureIo();
    expect(await runCli(['generate', '--root', root], write)).toBe(0);
    expect(write.out()).toMatch(/removed k8s\/overlays\/qa\/kustomization.yaml/);
    expect(await staleFiles(root)).toEqual([]);
    expect(await runCli(['generate', '--check', '--root', root], captureIo())).toBe(0);
  });

  it('a changed definition makes exactly the files it feeds stale', async () => {
    const changed = {
      ...ENVIRONMENTS,
      staging: { ...ENVIRONMENTS.staging, replicas: ENVIRONMENTS.staging.replicas + 1 },
    };
    expect(await staleFiles(REPO_ROOT, generatedFiles(changed))).toEqual(['k8s/overlays/staging/kustomization.yaml']);
  });
});
