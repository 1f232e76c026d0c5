import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseManifests } from '../../../src/platform/kube/validate.js';
import {
  configMapsOf,
  cpuFlag,
  envFileText,
  ENV_FILE_PLACEHOLDER,
  memoryFlag,
  podToDockerRun,
  probePort,
  workloadPod,
  type PodSpec,
} from '../../../src/verify/image/pod-run.js';

const flagValues = (argv: readonly string[], flag: string) =>
  argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []));

describe('podToDockerRun on the rendered prod overlay', () => {
  const objects = parseManifests(execFileSync('kubectl', ['kustomize', 'k8s/overlays/prod'], { encoding: 'utf8' }));
  const configMaps = configMapsOf(objects);
  const secrets = {
    'kgraph-mcp-secrets': {
      DATABASE_URL: 'postgres://u@h/db',
      REDIS_URL: 'redis://h',
      API_KEYS: 'k'.repeat(20),
      SENTRY_DSN: 'https://x@s.invalid/1',
    },
  };
  const deployment = workloadPod(objects, 'Deployment');

  it('runs the manifest command as entrypoint on the given image, with every security setting docker can express', () => {
    const plan = podToDockerRun({ pod: deployment, image: 'kgraph-mcp:test', configMaps, secrets });
    const c = deployment.containers[0]!;
    const at = plan.argv.indexOf('kgraph-mcp:test');
    expect(plan.argv.slice(at)).toEqual(['kgraph-mcp:test', ...c.command!.slice(1), ...(c.args ?? [])]);
    expect(flagValues(plan.argv, '--entrypoint')).toEqual([c.command![0]]);
    expect(flagValues(plan.argv, '--user')).toEqual(['1000:1000']);
    expect(plan.argv).toContain('--read-only');
    expect(flagValues(plan.argv, '--cap-drop')).toEqual(['ALL']);
    expect(flagValues(plan.argv, '--security-opt')).toEqual(['no-new-privileges']);
    expect(flagValues(plan.argv, '--memory')).toEqual([String(512 * 1024 * 1024)]);
    expect(flagValues(plan.argv, '--cpus')).toEqual(['1']);
    expect(flagValues(plan.argv, '--tmpfs')).toEqual([
      `/tmp:rw,nosuid,nodev,exec,size=${64 * 1024 * 1024},uid=1000,gid=1000`,
    ]);
    expect(flagValues(plan.argv, '--env-file')).toEqual([ENV_FILE_PLACEHOLDER]);
    // Secret values go through the env file only, never the argv (a process list would show them).
    expect(plan.argv.join(' ')).not.toContain('postgres://u@h/db');
    expect(plan.notes.join('\n')).toMatch(/runAsNonRoot/);
  });

  it('takes env from the ConfigMap and the Secret, with env winning over envFrom and overrides reported', () => {
    const cm = Object.values(configMaps)[0]!;
    const plan = podToDockerRun({ pod: deployment, image: 'i', configMaps, secrets, overrides: { PORT: '41234' } });
    for (const [k, v] of Object.entries(cm)) if (k !== 'PORT') expect(plan.env[k], k).toBe(v);
    expect(plan.env).toMatchObject(secrets['kgraph-mcp-secrets']);
    expect(plan.env.PORT).toBe('41234');
    expect(plan.notes).toContain('env PORT overridden for this machine (manifest value differs)');
  });

  it('fails like the kubelet, naming what is missing, when a secret key or the ConfigMap is absent', () => {
    const { SENTRY_DSN: _dropped, ...withoutDsn } = secrets['kgraph-mcp-secrets'];
    expect(() =>
      podToDockerRun({ pod: deployment, image: 'i', configMaps, secrets: { 'kgraph-mcp-secrets': withoutDsn } }),
    ).toThrow(/env SENTRY_DSN: Secret kgraph-mcp-secrets has no key SENTRY_DSN/);
    expect(() => podToDockerRun({ pod: deployment, image: 'i', configMaps: {}, secrets })).toThrow(
      /envFrom: ConfigMap kgraph-mcp-config-\w+ does not exist/,
    );
  });

  it('maps the migration Job the same way, with its own command', () => {
    const job = workloadPod(objects, 'Job', 'kgraph-mcp-migrate');
    const plan = podToDockerRun({ pod: job, image: 'i', configMaps, secrets });
    expect(plan.argv.slice(plan.argv.indexOf('i'))).toEqual(['i', 'dist/migrate.js']);
    expect(flagValues(plan.argv, '--entrypoint')).toEqual(['node']);
    expect(plan.env.DATABASE_URL).toBe('postgres://u@h/db');
    expect(plan.env.API_KEYS).toBeUndefined(); // the Job is not given what it does not reference
  });

  it('resolves named probe ports to the container port', () => {
    const c = deployment.containers[0]!;
    expect(probePort(c, c.readinessProbe)).toBe(8000);
    expect(probePort(c, c.livenessProbe)).toBe(8000);
  });
});

describe('pod spec details', () => {
  const pod = (over: Partial<PodSpec['containers'][number]>, podOver: Partial<PodSpec> = {}): PodSpec => ({
    containers: [{ name: 'c', ...over }],
    ...podOver,
  });
  it('keeps the image entrypoint when only args are given, and replaces it when command is', () => {
    expect(
      podToDockerRun({ pod: pod({ args: ['a', 'b'] }), image: 'i', configMaps: {}, secrets: {} }).argv.slice(-3),
    ).toEqual(['i', 'a', 'b']);
    const plan = podToDockerRun({
      pod: pod({ command: ['sh', '-c'], args: ['echo hi'] }),
      image: 'i',
      configMaps: {},
      secrets: {},
    });
    expect(flagValues(plan.argv, '--entrypoint')).toEqual(['sh']);
    expect(plan.argv.slice(plan.argv.indexOf('i'))).toEqual(['i', '-c', 'echo hi']);
  });
  it('lets the container securityContext win over the pod one, and skips optional references that are absent', () => {
    const plan = podToDockerRun({
      pod: pod(
        {
          securityContext: { runAsUser: 2000 },
          env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 's', key: 'k', optional: true } } }],
        },
        { securityContext: { runAsUser: 1000, runAsGroup: 3000 } },
      ),
      image: 'i',
      configMaps: {},
      secrets: {},
    });
    expect(flagValues(plan.argv, '--user')).toEqual(['2000:3000']);
    expect(plan.env.X).toBeUndefined();
  });
  it('converts quantities and refuses what docker cannot take', () => {
    expect(memoryFlag('256Mi')).toBe(String(256 * 1024 * 1024));
    expect(memoryFlag('1G')).toBe('1000000000');
    expect(cpuFlag('500m')).toBe('0.5');
    expect(cpuFlag(2)).toBe('2');
    expect(() => memoryFlag('lots')).toThrow(/memory limit lots/);
    expect(() => cpuFlag('0')).toThrow(/cpu limit 0/);
    expect(() => envFileText({ A: 'one\ntwo' })).toThrow(/env A: a value with a line break/);
    expect(envFileText({ A: '1', B: 'x=y' })).toBe('A=1\nB=x=y');
  });
});
