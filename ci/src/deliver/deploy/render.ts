/** The render phase: `kubectl kustomize` for the environment, parsed, and refused unless it validates with the image about to go out. */
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import { FailedError } from '../../definitions/errors.js';
import { parseManifests, policyViolations, type KubeObject } from '../../platform/kube/validate.js';
import { formatArgv } from '../../platform/process/argv.js';
import type { DeliveryDeps } from './deps.js';
import { renderArgv, withImage } from './plan.js';

export async function renderManifests(
  env: EnvironmentDefinition,
  image: string,
  deps: Pick<DeliveryDeps, 'runner' | 'err'>,
): Promise<KubeObject[]> {
  const argv = renderArgv(env.name);
  deps.err(`rendering: ${formatArgv(argv)}`);
  const res = await deps.runner({ argv });
  if (res.exitCode !== 0)
    throw new FailedError(
      `${formatArgv(argv)} failed (exit ${res.exitCode}): ${res.stderr.trim().split('\n').slice(-3).join(' | ')}`,
    );
  const manifests = parseManifests(res.stdout);
  const shipped = withImage(manifests, image, 'validation');
  const { schemaErrors } = await import('../../platform/kube/schema.js');
  const problems = [...schemaErrors(shipped), ...policyViolations(shipped)];
  if (problems.length) throw new FailedError(`manifests for ${env.name} fail validation:\n  ${problems.join('\n  ')}`);
  return manifests;
}
