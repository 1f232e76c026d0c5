/**
 * Import rules, checked by `npm run lint` (`npm run lint:deps`) and counted by scripts/measure-architecture.ts.
 * dependency-cruiser rather than madge: madge finds cycles only, dependency-cruiser also states layers as rules
 * (an import from a lower layer to a higher one) and counts type-only imports (tsPreCompilationDeps).
 *
 * Layers of ci/src, lowest first: a module may import its own layer or lower ones, never a higher one.
 */
const ciLayers = [
  // 0: the pipeline's data and shared leaves, imported by everything.
  ['environments', 'release-policy', 'steps', 'errors', 'outcome', 'repo-root', 'http-url'],
  // 1: pure helpers and the thin I/O edges.
  ['metrics', 'report', 'policy', 'kube', 'github', 'services', 'process', 'triggers', 'notify', 'dashboards'],
  // 2: the pipeline's parts.
  ['release', 'runner', 'scan', 'image', 'gate', 'watch', 'generate', 'ledger', 'migrations', 'backup', 'rehearse'],
  // 3: what combines parts.
  ['checklist', 'doctor', 'rollout'],
  ['deploy'],
  // top: the command line.
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
      comment: 'every ci/src folder or top-level file is listed in ciLayers above, so the layer rules see it',
      severity: 'error',
      from: { path: '^ci/src/', pathNot: ciPath(ciLayers.flat()) },
      to: {},
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
