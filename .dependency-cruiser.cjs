/**
 * Import rules, checked by `npm run lint` (`npm run lint:deps`) and counted by scripts/measure-architecture.ts.
 * dependency-cruiser rather than madge: madge finds cycles only, dependency-cruiser also states layers as rules
 * (an import from a lower layer to a higher one) and counts type-only imports (tsPreCompilationDeps).
 *
 * ci/src is grouped by pipeline stage, and the stages are the layers, lowest first: a stage may import its own
 * folder or lower ones, never a higher one (docs/architecture.md says what lives where and why in this order).
 */
const ciLayers = [
  // The pipeline's typed tables: environments, release policy, the step table; the exit codes.
  ['definitions'],
  // Shared leaves and the thin I/O edges: processes, services, GitHub, kubectl, Prometheus, the ledger, notifiers.
  ['platform'],
  // Checks and the artifact: the step runner, scan, image, migrations check, rehearsals, git-flow policy.
  ['verify'],
  // The latency gate.
  ['gate'],
  // Releases, deploys, rollbacks, backups, the rollout rehearsal.
  ['deliver'],
  // After a release: the watcher and its triggers, dashboards, the doctor.
  ['operate'],
  // top: the command line and the generators.
  ['cli'],
];

/** `ci/src/<name>` (folder) or `ci/src/<name>.ts` (file). */
const ciPath = (names) => `^ci/src/(${names.join('|')})(/|[.]ts$)`;

/** An import from paths matching `from` to paths matching `to` is an error. */
const forbid = (name, comment, from, to) => ({
  name,
  comment,
  severity: 'error',
  from: { path: from },
  to: { path: to },
});

const layerRules = ciLayers.slice(0, -1).map((names, rank) => {
  const above = ciLayers.slice(rank + 1).flat();
  return forbid(
    `ci-layer-${rank}-${names[0]}`,
    `ci/src/{${names.join(',')}} sits below ${above.join(', ')}: it must not import them`,
    ciPath(names),
    ciPath(above),
  );
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Import cycles (type-only imports count too): put what both need in a leaf',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'ci-module-has-a-layer',
      comment:
        'every file of ci/src sits in one of the stage folders listed in ciLayers above, so the layer rules see it',
      severity: 'error',
      from: { path: '^ci/src/', pathNot: ciPath(ciLayers.flat()) },
      to: {},
    },
    {
      name: 'ci-starts-processes-through-the-edge',
      comment:
        'ci/src/platform/process is the one process edge (run.ts captured, stream.ts line by line): no other ci file spawns',
      severity: 'error',
      from: { path: '^ci/src/', pathNot: '^ci/src/platform/process/' },
      to: { path: '^(node:)?child_process$' },
    },
    forbid(
      'app-is-self-contained',
      'The service does not import the pipeline, tests, benches or the Dagger module',
      '^app/(src|migrations)/',
      '^(ci|dagger|bench|testkit|app/test)/',
    ),
    forbid(
      'ci-does-not-import-tests-or-app-source',
      'ci/src is a library: no tests, benches, Dagger module or service source',
      '^ci/src/',
      '^(ci/test|app/src|app/test|bench|dagger|testkit)/',
    ),
    forbid(
      'dagger-module-is-self-contained',
      'The Dagger module ships alone into the engine: only its own files and the generated tables',
      '^dagger/src/',
      '^(ci|app|bench|testkit)/',
    ),
    forbid(
      'app-routes-below-app',
      'routes are plugins registered by app.ts; they must not import it',
      '^app/src/routes/',
      '^app/src/(app|main)[.]ts$',
    ),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist|coverage|dagger/sdk)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
