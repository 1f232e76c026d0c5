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
  ['metrics', 'report', 'policy', 'kube', 'github', 'services', 'process', 'triggers'],
  // 2: the pipeline's parts.
  ['release', 'runner', 'scan', 'image', 'gate', 'watch', 'generate', 'ledger'],
  // 3: what combines parts.
  ['checklist'],
  ['deploy'],
  // top: the command line.
  ['cli'],
];

/** `ci/src/<name>` (folder) or `ci/src/<name>.ts` (file). */
const ciPath = (names) => `^ci/src/(${names.join('|')})(/|[.]ts$)`;

const layerRules = ciLayers.slice(0, -1).map((names, rank) => ({
  name: `ci-layer-${rank}-${names[0]}`,
  comment: `ci/src/{${names.join(',')}} sits below ${ciLayers
    .slice(rank + 1)
    .flat()
    .join(', ')}: it must not import them`,
  severity: 'error',
  from: { path: ciPath(names) },
  to: { path: ciPath(ciLayers.slice(rank + 1).flat()) },
}));

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
      name: 'app-is-self-contained',
      comment: 'The service does not import the pipeline, tests, benches or the Dagger module',
      severity: 'error',
      from: { path: '^app/(src|migrations)/' },
      to: { path: '^(ci|dagger|bench|testkit|app/test)/' },
    },
    {
      name: 'ci-does-not-import-tests-or-app-source',
      comment: 'ci/src is a library: no tests, benches, Dagger module or service source',
      severity: 'error',
      from: { path: '^ci/src/' },
      to: { path: '^(ci/test|app/src|app/test|bench|dagger|testkit)/' },
    },
    {
      name: 'dagger-module-is-self-contained',
      comment: 'The Dagger module ships alone into the engine: only its own files and the generated tables',
      severity: 'error',
      from: { path: '^dagger/src/' },
      to: { path: '^(ci|app|bench|testkit)/' },
    },
    {
      name: 'app-routes-below-app',
      comment: 'routes are plugins registered by app.ts; they must not import it',
      severity: 'error',
      from: { path: '^app/src/routes/' },
      to: { path: '^app/src/(app|main)[.]ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist|coverage|dagger/sdk)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
