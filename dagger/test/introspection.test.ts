/**
 * The module as the engine will see it: dagger/src scanned by the introspector that ships in
 * @dagger.io/dagger 0.21.9 (the code the engine's TypeScript runtime runs to register a module),
 * then registered against the fake engine. Checks the contract of every function (arguments, defaults,
 * return types, docs), @check and cache "never" from the decorators, and agreement with the step table.
 */
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connection } from '@dagger.io/dagger';
import { STEPS, STEP_NAMES } from '../../ci/src/definitions/steps.js';
import { ENVIRONMENT_NAMES } from '../../ci/src/definitions/environments.js';
import { useFakeEngine } from './harness.js';
import { NODE_VERSIONS } from '../src/plan.js';

interface TypeDef {
  kind: string;
  name?: string;
}
interface Arg {
  name: string;
  description: string;
  type?: TypeDef;
  isOptional: boolean;
  defaultValue?: unknown;
  defaultPath?: string;
  ignore?: string[];
}
interface Fn {
  name: string;
  description: string;
  cache?: string;
  isCheck: boolean;
  returnType?: TypeDef;
  arguments: Record<string, Arg>;
}
interface ScannedModule {
  description?: string;
  objects: Record<
    string,
    { description: string; methods: Record<string, Fn>; _constructor?: { arguments: Record<string, Arg> } }
  >;
  enums: Record<string, unknown>;
  interfaces: Record<string, unknown>;
}

const sdkDir = dirname(createRequire(import.meta.url).resolve('@dagger.io/dagger'));
const srcDir = fileURLToPath(new URL('../src/', import.meta.url));

let scanned: ScannedModule;
let tmp: string;
const ctx = useFakeEngine();

beforeAll(async () => {
  // The engine hands the introspector its generated client.gen.ts; the npm package ships the same
  // declarations as client.gen.d.ts, which the introspector skips as a declaration file.
  tmp = mkdtempSync(join(tmpdir(), 'kgraph-dagger-introspect-'));
  const client = join(tmp, 'client.gen.ts');
  copyFileSync(join(sdkDir, 'api', 'client.gen.d.ts'), client);
  const files = readdirSync(srcDir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(srcDir, f));
  const introspector = (await import(
    /* @vite-ignore */ pathToFileURL(join(sdkDir, 'module/introspector/index.js')).href
  )) as {
    scan(files: string[], moduleName: string, loadModule: boolean): Promise<ScannedModule>;
  };
  scanned = await introspector.scan([...files, client], 'kgraph-mcp', false);
}, 30_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type ScannedObject = ScannedModule['objects'][string];

const objectNamed = (name: string): ScannedObject => {
  const obj = scanned.objects[name];
  if (!obj) throw new Error(`no ${name} object; found ${Object.keys(scanned.objects).join(', ')}`);
  return obj;
};
const mod = () => objectNamed('KgraphMcp');

/** The root's accessor for each area object, as `dagger call <accessor> <function>` reaches it. */
const AREAS = { image: 'Images', gate: 'Gate', delivery: 'Delivery', repo: 'Repo' } as const;

/** `lint` on the root, `delivery.deploy` on an area. */
const fnAt = (path: string): Fn => {
  const [first, second] = path.split('.') as [string, string | undefined];
  const owner = second ? objectNamed(AREAS[first as keyof typeof AREAS]) : mod();
  const fn = owner.methods[second ?? first];
  if (!fn) throw new Error(`no function ${path}`);
  return fn;
};
/** Every function of every object, by path. */
const allFunctions = (): [string, Fn][] => [
  ...Object.entries(mod().methods),
  ...Object.entries(AREAS).flatMap(([accessor, name]) =>
    Object.entries(objectNamed(name).methods).map(([fn, f]) => [`${accessor}.${fn}`, f] as [string, Fn]),
  ),
];

const S = { kind: 'STRING_KIND' };
const B = { kind: 'BOOLEAN_KIND' };
const enumType = (name: keyof typeof ENUMS) => ({ kind: 'ENUM_KIND', name });
const ENV = enumType('Environment');
const SEVERITY = enumType('Severity');
const STEP = enumType('Step');
const VOID = { kind: 'VOID_KIND' };
const obj = (name: string) => ({ kind: 'OBJECT_KIND', name });
type ArgSpec = [name: string, type: TypeDef, opts?: { default?: unknown; optional?: boolean }];

/**
 * The closed sets the module registers as enums, from ci/'s tables (or trivy's grades): member name and
 * value are ci/'s spelling, so the CLI (which matches member names case-insensitively) takes what the
 * workflows pass.
 */
const ENUMS = {
  Environment: [...ENVIRONMENT_NAMES],
  Step: [...STEP_NAMES],
  Severity: ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'],
} as const;

/** The agreed contract (the workflows and README call these). */
const CONTRACT: Record<string, { args: ArgSpec[]; returns: TypeDef; check?: true; never?: true }> = {
  lint: { args: [], returns: VOID, check: true },
  typecheck: { args: [], returns: VOID, check: true },
  test: { args: [], returns: VOID, check: true },
  integrationTest: { args: [], returns: VOID, check: true },
  migrationsCheck: { args: [['repo', obj('Directory')]], returns: VOID, check: true },
  rolloutRehearsal: { args: [['repo', obj('Directory')]], returns: obj('Directory'), never: true },
  coverage: { args: [], returns: obj('Directory') },
  'image.build': { args: [['environment', ENV, { default: 'dev' }]], returns: obj('Container') },
  // A scan verdict must not replay from the function cache while the vulnerability database moves on.
  'image.scan': {
    args: [
      ['environment', ENV, { default: 'dev' }],
      ['severity', SEVERITY, { default: 'HIGH' }],
      ['allowOffline', B, { default: false }],
    ],
    returns: S,
    never: true,
  },
  'image.publish': {
    args: [
      ['registry', S],
      ['tag', S],
      ['username', S],
      ['password', obj('Secret')],
      ['environment', ENV, { default: 'prod' }],
    ],
    returns: S,
    never: true,
  },
  'image.publishCandidate': {
    args: [
      ['registry', S],
      ['username', S],
      ['password', obj('Secret')],
      ['commit', S],
      ['tree', S],
    ],
    returns: S,
    never: true,
  },
  'delivery.promotionCandidate': {
    args: [
      ['tag', S],
      ['githubToken', obj('Secret')],
      ['repository', S],
    ],
    returns: S,
    never: true,
  },
  'delivery.deliveryReport': {
    args: [
      ['githubToken', obj('Secret')],
      ['repository', S],
      ['since', S, { default: '30d' }],
    ],
    returns: obj('Directory'),
    never: true,
  },
  serve: {
    args: [
      ['environment', ENV, { default: 'dev' }],
      ['apiKey', obj('Secret'), { optional: true }],
    ],
    returns: obj('Service'),
  },
  // A gate verdict is measured on every call, never replayed from the function cache.
  'gate.latencyGate': {
    args: [
      ['environment', ENV, { default: 'staging' }],
      ['baselineImage', S, { optional: true }],
      ['baselineSource', obj('Directory'), { optional: true }],
      ['registryUsername', S, { optional: true }],
      ['registryPassword', obj('Secret'), { optional: true }],
    ],
    returns: S,
    never: true,
  },
  'delivery.deploy': {
    args: [
      ['environment', ENV],
      ['image', S],
      ['kubeconfig', obj('Secret')],
      ['githubToken', obj('Secret'), { optional: true }],
      ['apiKey', obj('Secret'), { optional: true }],
      ['repository', S, { optional: true }],
      ['version', S, { optional: true }],
      ['commit', S, { optional: true }],
      ['tree', S, { optional: true }],
    ],
    returns: S,
    never: true,
  },
  'delivery.migrationsCompat': {
    args: [
      ['environment', ENV, { default: 'prod' }],
      ['previous', S, { optional: true }],
      ['image', S, { optional: true }],
      ['previousDigest', S, { optional: true }],
      ['githubToken', obj('Secret'), { optional: true }],
      ['repository', S, { optional: true }],
    ],
    returns: S,
    never: true,
  },
  'delivery.rollback': {
    args: [
      ['environment', ENV],
      ['kubeconfig', obj('Secret')],
      ['to', S, { optional: true }],
      ['apiKey', obj('Secret'), { optional: true }],
      ['githubToken', obj('Secret'), { optional: true }],
      ['repository', S, { optional: true }],
    ],
    returns: S,
    never: true,
  },
  'delivery.watch': {
    args: [
      ['environment', ENV],
      ['url', S],
      ['kubeconfig', obj('Secret')],
      ['duration', S, { default: '15m' }],
      ['githubToken', obj('Secret'), { optional: true }],
      ['repository', S, { optional: true }],
    ],
    returns: S,
    never: true,
  },
  'delivery.release': {
    args: [
      ['tag', S],
      ['githubToken', obj('Secret')],
      ['repository', S, { optional: true }],
      ['image', S, { optional: true }],
      ['username', S, { optional: true }],
    ],
    returns: S,
    never: true,
  },
  'repo.policyPr': {
    args: [
      ['source', S],
      ['target', S],
    ],
    returns: S,
  },
  'repo.policyTag': {
    args: [
      ['tag', S],
      ['repo', obj('Directory')],
    ],
    returns: S,
  },
  'repo.cutRelease': {
    args: [
      ['githubToken', obj('Secret')],
      ['from', S, { default: 'develop' }],
      ['repository', S, { optional: true }],
    ],
    returns: S,
    never: true,
  },
  'repo.protect': {
    args: [
      ['githubToken', obj('Secret')],
      ['repository', S],
    ],
    returns: S,
    never: true,
  },
  debug: { args: [['step', STEP]], returns: obj('Container') },
  image: { args: [], returns: obj('Images') },
  gate: { args: [], returns: obj('Gate') },
  delivery: { args: [['repo', obj('Directory'), { optional: true }]], returns: obj('Delivery') },
  repo: { args: [], returns: obj('Repo') },
};

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

describe('module surface', () => {
  it('is the documented root object, one documented object per area and the enums; helper files add no other types', () => {
    expect(Object.keys(scanned.objects).sort()).toEqual(['KgraphMcp', ...Object.values(AREAS)].sort());
    for (const name of Object.values(AREAS))
      expect(objectNamed(name).description.trim().length, name).toBeGreaterThan(10);
    expect(Object.keys(scanned.enums).sort()).toEqual(Object.keys(ENUMS).sort());
    expect(Object.keys(scanned.interfaces)).toEqual([]);
    expect(scanned.description).toMatch(/KGraph-MCP pipeline/);
    expect(mod().description).toMatch(/pipeline/);
  });

  it.each(Object.entries(ENUMS))(
    'registers enum %s with exactly its members, documented, in order',
    (name, members) => {
      const e = scanned.enums[name] as {
        description: string;
        values: Record<string, { name: string; value: string; description: string }>;
      };
      expect(e.description.trim().length, name).toBeGreaterThan(10);
      expect(Object.values(e.values).map((v) => [v.name, v.value])).toEqual(members.map((m) => [m, m]));
      for (const v of Object.values(e.values))
        expect(v.description.trim().length, `${name}.${v.name}`).toBeGreaterThan(0);
    },
  );

  it('types every environment, severity and step argument with its enum, never as a free string', () => {
    const expected: Record<string, TypeDef> = { environment: ENV, severity: SEVERITY, step: STEP };
    let seen = 0;
    for (const [, fn] of allFunctions()) {
      for (const arg of Object.values(fn.arguments)) {
        if (expected[arg.name]) {
          seen++;
          expect(arg.type, `${fn.name}.${arg.name}`).toEqual(expected[arg.name]);
        }
      }
    }
    expect(seen).toBe(
      Object.values(CONTRACT)
        .flatMap((c) => c.args)
        .filter(([n]) => n in expected).length,
    );
    expect(seen).toBeGreaterThanOrEqual(10);
  });

  it('exposes exactly the contract functions, each area through its accessor on the root', () => {
    expect(
      allFunctions()
        .map(([path]) => path)
        .sort(),
    ).toEqual(Object.keys(CONTRACT).sort());
    for (const [accessor, name] of Object.entries(AREAS))
      expect(mod().methods[accessor]!.returnType).toMatchObject(obj(name));
  });

  it.each(Object.entries(CONTRACT))('%s has the agreed arguments, return type and a doc comment', (name, spec) => {
    const fn = fnAt(name);
    expect(fn.description.trim().length).toBeGreaterThan(10);
    expect(fn.returnType).toMatchObject(spec.returns);
    const args = Object.values(fn.arguments);
    expect(args.map((a) => a.name)).toEqual(spec.args.map(([n]) => n));
    for (const [argName, type, opts] of spec.args) {
      const arg = fn.arguments[argName]!;
      expect(arg.type, `${name}.${argName}`).toMatchObject(type);
      expect(arg.defaultValue, `${name}.${argName} default`).toEqual(opts?.default);
      expect(arg.isOptional, `${name}.${argName} optional`).toBe(opts?.optional ?? false);
    }
  });

  // An example in every doc comment, checked like the README's: it calls its own function with real flags and values.
  it.each(Object.keys(CONTRACT))('%s shows an example `dagger call` that the module accepts', (name) => {
    const fn = fnAt(name);
    const examples = [...fn.description.matchAll(/Example: `dagger call ([^`]+)`/g)].map((m) =>
      m[1]!.trim().split(/\s+/),
    );
    expect(examples.length, `${name} has no "Example: \`dagger call ...\`" line`).toBeGreaterThan(0);
    for (const words of examples) {
      // Module flags before the function are written with "=", so the first other word is the function.
      const path = words.filter((w) => !w.startsWith('-')).slice(0, name.split('.').length);
      expect(path.join(' '), name).toBe(name.split('.').map(kebab).join(' '));
      expect(checkCall(words, mod()), `dagger call ${words.join(' ')}`).toEqual([]);
    }
  });

  it('marks the five checks with @check on the root (where dagger check finds them), and they take no required arguments', () => {
    const checks = allFunctions()
      .filter(([, f]) => f.isCheck)
      .map(([path]) => path)
      .sort();
    expect(checks).toEqual(['integrationTest', 'lint', 'migrationsCheck', 'test', 'typecheck']);
    // `dagger check` passes no arguments: each one a check has comes from its default path.
    for (const name of checks)
      for (const arg of Object.values(mod().methods[name]!.arguments))
        expect(arg.defaultPath, `${name}.${arg.name}`).toBe('/');
  });

  it('sets cache "never" on exactly the functions that change the world, read the ledger (whose answer moves), on scan (its verdict goes stale) and on the rollout rehearsal (its previous release moves)', () => {
    const never = allFunctions()
      .filter(([, f]) => f.cache === 'never')
      .map(([path]) => path)
      .sort();
    expect(never).toEqual([
      'delivery.deliveryReport',
      'delivery.deploy',
      'delivery.migrationsCompat',
      'delivery.promotionCandidate',
      'delivery.release',
      'delivery.rollback',
      'delivery.watch',
      'gate.latencyGate',
      'image.publish',
      'image.publishCandidate',
      'image.scan',
      'repo.cutRelease',
      'repo.protect',
      'rolloutRehearsal',
    ]);
    expect(never).toEqual(
      Object.entries(CONTRACT)
        .filter(([, s]) => s.never)
        .map(([n]) => n)
        .sort(),
    );
    for (const [path, fn] of allFunctions()) if (fn.cache !== 'never') expect(fn.cache, path).toBeUndefined();
  });

  it('takes secrets only as Secret arguments, never as strings', () => {
    for (const [, fn] of allFunctions()) {
      for (const arg of Object.values(fn.arguments)) {
        if (/token|password|kubeconfig|secret|key/i.test(arg.name))
          expect(arg.type, `${fn.name}.${arg.name}`).toMatchObject(obj('Secret'));
      }
    }
  });

  it('loads the source from the git root without node_modules, dist, .git and coverage; nodeVersion defaults to 22', () => {
    const args = mod()._constructor!.arguments;
    expect(Object.keys(args)).toEqual(['source', 'nodeVersion']);
    expect(args.source).toMatchObject({ type: obj('Directory'), defaultPath: '/' });
    expect(args.source!.ignore).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '.git', '**/coverage']));
    expect(args.nodeVersion).toMatchObject({ type: S, defaultValue: '22' });
  });

  // nodeVersion cannot be an enum (a member name cannot start with a digit and the workflows pass 22), so
  // its help text is where the choices show: it names exactly the versions the module has images for.
  it('nodeVersion help names exactly the supported versions', () => {
    const help = mod()._constructor!.arguments.nodeVersion!.description;
    expect([...help.matchAll(/"(\d+)"/g)].map((m) => m[1]).sort()).toEqual([...NODE_VERSIONS].sort());
  });

  it('policyTag keeps .git in its repo directory', () => {
    const repo = fnAt('repo.policyTag').arguments.repo!;
    expect(repo.defaultPath).toBe('/');
    expect(repo.ignore ?? []).not.toContain('.git');
  });
});

describe('agreement with the step table', () => {
  it.each(STEP_NAMES)('step %s has a function of the same name, spelled as the CLI name', (step) => {
    expect(
      allFunctions().find(([path]) => path.split('.').at(-1) === step),
      `no function for step ${step}`,
    ).toBeDefined();
    expect(kebab(step)).toBe(STEPS[step].cliName);
  });
});

describe('registration with the engine', () => {
  it('registers cache policy NEVER and withCheck on the right functions', async () => {
    const { Register } = (await import(
      /* @vite-ignore */ pathToFileURL(join(sdkDir, 'module/entrypoint/register.js')).href
    )) as {
      Register: new (m: ScannedModule) => { run(): Promise<string> };
    };
    ctx.engine.reset();
    await connection(async () => {
      await new Register(scanned).run();
    });
    const query = ctx.engine.expand(ctx.engine.queries.at(-1)!.query);
    const fnDefs = query
      .split('{ function (name: "')
      .slice(1)
      .map((text) => ({ name: text.slice(0, text.indexOf('"')), text }));
    const named = (n: string) => fnDefs.find((f) => f.name === n)?.text ?? '';
    for (const [path, spec] of Object.entries(CONTRACT)) {
      const name = path.split('.').at(-1)!;
      expect(named(name), name).not.toBe('');
      expect(/withCachePolicy \(policy: Never\)/.test(named(name)), `${name} cache never`).toBe(spec.never === true);
      expect(/withCheck\b/.test(named(name)), `${name} check`).toBe(spec.check === true);
    }
  }, 60_000);
});

/**
 * How Dagger 0.21 turns a registered member name into the one the CLI lists and matches: kept when it
 * is already upper snake case, else converted (core/gqlformat.go gqlEnumMemberName, strcase); the CLI
 * accepts a value equal to a listed name ignoring case (cmd/dagger/flags.go enumValue.Set).
 */
const engineMemberName = (name: string) =>
  /^[A-Z][A-Z0-9_]*$/.test(name)
    ? name
    : name
        .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
        .replace(/([a-z])([0-9])/g, '$1_$2')
        .toUpperCase();
const cliAccepts = (members: readonly string[], value: string) =>
  members.some((m) => engineMemberName(m).toLowerCase() === value.toLowerCase());

describe('enums as the engine and the CLI see them', () => {
  let query = '';
  beforeAll(async () => {
    const { Register } = (await import(
      /* @vite-ignore */ pathToFileURL(join(sdkDir, 'module/entrypoint/register.js')).href
    )) as {
      Register: new (m: ScannedModule) => { run(): Promise<string> };
    };
    ctx.engine.reset();
    await connection(async () => {
      await new Register(scanned).run();
    });
    query = ctx.engine.expand(ctx.engine.queries.at(-1)!.query);
  }, 60_000);

  it.each(Object.entries(ENUMS))(
    'registers %s with withEnum and one withEnumMember per member, name and value',
    (name, members) => {
      const at = query.indexOf(`withEnum (name: "${name}",description: "`);
      expect(at, name).toBeGreaterThanOrEqual(0);
      const block = query.slice(at, query.indexOf('{ id  } } } } } }', at));
      expect([...block.matchAll(/withEnumMember \(name: "(\w+)",value: "(\w+)"/g)].map((m) => [m[1], m[2]])).toEqual(
        members.map((m) => [m, m]),
      );
    },
  );

  it('registers enum arguments by their enum type, defaults as member names', () => {
    const scan = query.slice(query.indexOf('{ function (name: "scan"'));
    expect(scan).toMatch(
      /withArg \(name: "environment",typeDef: <<\s*\{ typeDef\s+\{ withEnum \(name: "Environment"\) \{ id\s*\} \} \}\s*>>,description: "[^"]*",sourceMap: <<[^>]*>>,defaultValue: "\\"dev\\""\)/,
    );
    expect(scan).toMatch(
      /withArg \(name: "severity",typeDef: <<\s*\{ typeDef\s+\{ withEnum \(name: "Severity"\) \{ id\s*\} \} \}\s*>>,description: "[^"]*",sourceMap: <<[^>]*>>,defaultValue: "\\"HIGH\\""\)/,
    );
  });

  it('the CLI lists and takes the spellings the workflows and ci/ use, and refuses others', () => {
    expect(ENUMS.Environment.map(engineMemberName).sort()).toEqual(['DEV', 'PROD', 'STAGING']);
    for (const e of ENVIRONMENT_NAMES) expect(cliAccepts(ENUMS.Environment, e), e).toBe(true);
    for (const bad of ['qa', 'production', 'Prod ', '']) expect(cliAccepts(ENUMS.Environment, bad), bad).toBe(false);
    for (const sev of ['HIGH', 'CRITICAL', 'critical', 'medium'])
      expect(cliAccepts(ENUMS.Severity, sev), sev).toBe(true);
    expect(cliAccepts(ENUMS.Severity, 'SEVERE')).toBe(false);
    // Step names with a capital become upper snake case: `--step integration_test` (a dash is no GraphQL name).
    expect(engineMemberName('integrationTest')).toBe('INTEGRATION_TEST');
    expect(cliAccepts(ENUMS.Step, 'integration_test')).toBe(true);
    expect(cliAccepts(ENUMS.Step, 'test')).toBe(true);
    expect(cliAccepts(ENUMS.Step, 'e2e')).toBe(false);
  });
});

describe('the Dagger commands in the README and docs/', () => {
  const docs = [
    'README.md',
    ...readdirSync(new URL('../../docs', import.meta.url), { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
  const section = docs.map((f) => readFileSync(new URL(`../../${f}`, import.meta.url), 'utf8')).join('\n');

  it('show the commands a new user starts with', () => {
    for (const cmd of [
      'dagger call test',
      'dagger check',
      'dagger call integration-test',
      'dagger call serve up --ports 8000:8000',
      'dagger call debug --step test terminal',
      'dagger call -i',
      'dagger functions',
    ]) {
      expect(section).toContain(cmd);
    }
  });

  it('names only functions and arguments the module has, and gives every required argument', () => {
    const calls = [...section.matchAll(/^dagger call ([^#\n`]+)/gm)].map((m) => m[1]!.trim().split(/\s+/));
    expect(calls.length).toBeGreaterThan(5);
    const checked = { flags: 0 };
    for (const words of calls) {
      const problems = checkCall(words, mod(), checked);
      expect(problems, `dagger call ${words.join(' ')}`).toEqual([]);
    }
    // Every flag of every call was looked at, chained calls' included.
    expect(checked.flags).toBe(calls.flat().filter((w) => w.startsWith('--')).length);
  });

  it('the call checker reads every flag, with or without "=", up to a chained call', () => {
    const m = mod();
    expect(checkCall(['debug', '--step', 'test', 'terminal'], m)).toEqual([]);
    expect(checkCall(['--node-version', '24', 'image', 'scan', '--environment', 'dev', '--severity=HIGH'], m)).toEqual(
      [],
    );
    expect(checkCall(['image', 'scan', '--environment', 'dev', '--sevrity', 'HIGH'], m)).toEqual([
      'scan has no argument --sevrity',
    ]);
    expect(checkCall(['image', 'scan', '--environment=dev', '--sevrity=HIGH'], m)).toEqual([
      'scan has no argument --sevrity',
    ]);
    expect(checkCall(['scan'], m)).toEqual(['unknown function scan']);
    expect(checkCall(['image', 'deploy'], m)).toEqual(['unknown function image deploy']);
    expect(checkCall(['delivery'], m)).toEqual(['delivery returns Delivery: name one of its functions']);
    expect(checkCall(['--node', '24', 'test'], m)).toEqual(['the module has no argument --node']);
    expect(checkCall(['debug', 'terminal'], m)).toEqual(['debug needs --step']);
    expect(checkCall(['debug', '--step'], m)).toEqual(['--step has no value']);
    expect(checkCall(['serve', '--api-key', 'env://K', 'up', '--ports', '8000:8000'], m)).toEqual([]);
    expect(checkCall(['serve', 'up', '--port', '8000:8000'], m)).toEqual(['up has no flag --port']);
    expect(checkCall(['serve', 'upp'], m)).toEqual(['serve returns Service, which has no upp here']);
    expect(checkCall(['lint', 'terminal'], m)).toEqual(['lint returns nothing, which has no terminal here']);
    expect(checkCall(['coverage', 'export', '--path', 'coverage', 'extra'], m)).toEqual([
      'cannot check "extra" after export',
    ]);
    expect(checkCall(['deploy-all'], m)).toEqual(['unknown function deploy-all']);
    expect(checkCall(['image', 'scan', '--severity', 'SEVERE'], m)).toEqual([
      '--severity SEVERE is not one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL',
    ]);
    expect(checkCall(['gate', 'latency-gate', '--environment=production'], m)).toEqual([
      '--environment production is not one of dev, staging, prod',
    ]);
    expect(checkCall(['debug', '--step', 'integration-test', 'terminal'], m)).toEqual([
      `--step integration-test is not one of ${STEP_NAMES.join(', ')}`,
    ]);
  });
});

/** Dagger's own flags that may come before the function (the README uses only these). */
const DAGGER_FLAGS = new Set(['-i', '--interactive']);

/**
 * Walks `dagger call [dagger flags] [module flags] fn [fn flags] [chained call ...]` and returns what
 * does not match the module: unknown function or flag, a flag without its value, a missing required
 * argument. A flag's value is the rest of `--flag=value` or the next word.
 */
function checkCall(words: string[], module: ReturnType<typeof mod>, counter = { flags: 0 }): string[] {
  const problems: string[] = [];
  let i = 0;
  const readFlags = (args: Record<string, Arg>, owner: string): Set<string> => {
    const seen = new Set<string>();
    while (i < words.length && words[i]!.startsWith('-')) {
      const word = words[i++]!;
      if (owner === 'the module' && DAGGER_FLAGS.has(word)) continue;
      counter.flags++;
      const [name, inline] = [word.replace(/^--?/, '').split('=')[0]!, word.includes('=')];
      const arg = Object.values(args).find((a) => kebab(a.name) === name);
      if (!arg) problems.push(`${owner} has no argument --${name}`);
      else seen.add(arg.name);
      let value: string | undefined = inline ? word.slice(word.indexOf('=') + 1) : undefined;
      if (!inline && arg?.type?.kind !== 'BOOLEAN_KIND') {
        if (i >= words.length) problems.push(`--${name} has no value`);
        value = words[i++];
      }
      // An enum flag takes only a member, as the CLI matches it.
      const members =
        arg?.type?.kind === 'ENUM_KIND' ? (ENUMS as Record<string, readonly string[]>)[arg.type.name!] : undefined;
      if (members && value !== undefined && !cliAccepts(members, value))
        problems.push(`--${name} ${value} is not one of ${members.join(', ')}`);
    }
    return seen;
  };
  readFlags(module._constructor?.arguments ?? {}, 'the module');
  const fnName = words[i++];
  let fn = Object.values(module.methods).find((f) => kebab(f.name) === fnName);
  if (!fn) return [...problems, `unknown function ${fnName}`];
  // An area accessor: the next word is one of that object's functions.
  const area = Object.values(AREAS).find((name) => fn!.returnType?.name === name);
  if (area) {
    const inner = words[i++];
    if (inner === undefined) return [...problems, `${fnName} returns ${area}: name one of its functions`];
    fn = Object.values(objectNamed(area).methods).find((f) => kebab(f.name) === inner);
    if (!fn) return [...problems, `unknown function ${fnName} ${inner}`];
  }
  const fnLabel = kebab(fn.name);
  const given = readFlags(fn.arguments, fnLabel);
  for (const arg of Object.values(fn.arguments)) {
    const required = !arg.isOptional && arg.defaultValue === undefined && arg.defaultPath === undefined;
    if (required && !given.has(arg.name)) problems.push(`${fnLabel} needs --${kebab(arg.name)}`);
  }
  if (i >= words.length) return problems;
  // One chained call on the result, with its own flags (their values are the core API's business).
  const returned = fn.returnType?.name ?? 'nothing';
  const chain = words[i++]!;
  const flags = CHAINS[returned]?.[chain];
  if (!flags) return [...problems, `${fnLabel} returns ${returned}, which has no ${chain} here`];
  while (i < words.length && words[i]!.startsWith('--')) {
    const word = words[i++]!;
    counter.flags++;
    const name = word.slice(2).split('=')[0]!;
    if (!flags.includes(name)) problems.push(`${chain} has no flag --${name}`);
    if (!word.includes('=')) i++;
  }
  if (i < words.length) problems.push(`cannot check "${words.slice(i).join(' ')}" after ${chain}`);
  return problems;
}

/** The core calls the README and the doc comments chain on a result, with the flags they take (Dagger 0.21 API). */
const CHAINS: Record<string, Record<string, readonly string[]>> = {
  Service: { up: ['ports', 'random'] },
  Container: { terminal: ['cmd'], export: ['path'], stdout: [] },
  Directory: { export: ['path'], entries: [] },
};
