/**
 * Runs in its own process, under tsx with dagger/tsconfig.json (the module's legacy decorators): loads the
 * module from dagger/src, calls one function through the real SDK against the rehearsal's session, forces
 * its result as `dagger call` would print it, and writes one JSON line with the outcome.
 *
 *   KGRAPH_REHEARSE_CALL='<json CallSpec>' node --import tsx/esm ci/src/verify/rehearse/driver.ts
 */
import { pathToFileURL } from 'node:url';
import type { CallSpec, DriverArg } from './call.js';

type Fn = (...args: unknown[]) => unknown;
interface Dag {
  host(): { directory(path: string, opts: { exclude: readonly string[] }): unknown };
  setSecret(name: string, value: string): unknown;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.KGRAPH_REHEARSE_CALL ?? '{}') as CallSpec;
  const sdk = (await import('@dagger.io/dagger')) as unknown as {
    connection(fn: () => Promise<void>): Promise<void>;
    dag: Dag;
  };
  const mod = (await import(pathToFileURL(spec.modulePath).href)) as Record<string, new (...a: unknown[]) => unknown>;
  const Root = mod[spec.rootClass];
  if (!Root) throw new Error(`${spec.modulePath} has no class ${spec.rootClass}`);
  let outcome: { ok: true; result: unknown } | { ok: false; error: string };
  try {
    let result: unknown;
    await sdk.connection(async () => {
      const { dag } = sdk;
      const toValue = (a: DriverArg): unknown => {
        if (a.kind === 'secret') return dag.setSecret(a.name, a.value);
        if (a.kind === 'directory') return dag.host().directory(a.path, { exclude: a.exclude ?? [] });
        return a.kind === 'undefined' ? undefined : a.value;
      };
      let self = new Root(...spec.constructorArgs.map(toValue)) as Record<string, Fn>;
      // One accessor at most (`delivery deploy`): it gets its defaultPath arguments, as from the engine.
      for (const accessor of spec.path.slice(0, -1))
        self = (self[accessor] as Fn).apply(self, (spec.accessorArgs ?? []).map(toValue)) as Record<string, Fn>;
      const fn = self[spec.path.at(-1)!];
      if (typeof fn !== 'function') throw new Error(`no function ${spec.path.join('.')}`);
      const returned = (await fn.apply(self, spec.args.map(toValue))) as Record<string, Fn> | string | undefined;
      result = await force(returned, spec.force);
    });
    outcome = { ok: true, result };
  } catch (err) {
    outcome = { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  process.stdout.write(`\nKGRAPH_REHEARSE_OUTCOME ${JSON.stringify(outcome)}\n`);
}

/** What `dagger call` does with a result: print a string, sync a container, list a directory, start a service. */
async function force(value: Record<string, Fn> | string | undefined, how: CallSpec['force']): Promise<unknown> {
  if (value === undefined || typeof value === 'string') return value ?? null;
  if (how === 'terminal') {
    const shell = (value.terminal as Fn).call(value) as Record<string, Fn>;
    await (shell.sync as Fn).call(shell);
    return 'terminal opened and closed';
  }
  if (how === 'entries') return value.entries!.call(value);
  if (how === 'up') return (value.start as Fn).call(value);
  return value.sync ? ((await value.sync.call(value)) ? 'synced' : null) : null;
}

void main();
