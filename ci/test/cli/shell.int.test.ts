import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { DEFAULT_DATABASE_URL } from '../../src/platform/services/ephemeral.js';
import { captureIo } from './io.js';

const dbExists = async (name: string) => {
  const c = new pg.Client({ connectionString: process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL });
  await c.connect();
  try {
    return (await c.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
  } finally {
    await c.end();
  }
};

describe('kgraph-ci shell', () => {
  it("runs a command with the step's env and fresh services, then removes them", async () => {
    const io = captureIo({ ...process.env, SHELL: '/bin/sh', KGRAPH_SERVICES: '' });
    const code = await runCli(
      [
        'shell',
        'integration-test',
        '-c',
        'echo "step=$KGRAPH_STEP env=$NODE_ENV"; node -e "const c = new (require(\'pg\').Client)(process.env.DATABASE_URL); c.connect().then(() => c.query(\'select current_database() d\')).then((r) => { console.log(r.rows[0].d); return c.end(); })"; echo "prefix=$REDIS_PREFIX"',
      ],
      io,
    );
    expect(io.err()).toMatch(/kgraph-ci shell: integrationTest/);
    expect(code).toBe(0);
    expect(io.out()).toMatch(/step=integrationTest env=test/);
    const db = /^(kgraph_eph_\w+)$/m.exec(io.out())![1]!;
    expect(io.out()).toMatch(/prefix=kgraph:eph:\w+:\w+:/);
    expect(await dbExists(db)).toBe(false);
  });
  it('passes the exit status on as a failure, and rejects an unknown step', async () => {
    expect(
      await runCli(
        ['shell', 'lint', '-c', 'exit 7'],
        captureIo({ ...process.env, SHELL: '/bin/sh', KGRAPH_SERVICES: '' }),
      ),
    ).toBe(1);
    const io = captureIo(process.env);
    expect(await runCli(['shell', 'nope', '-c', 'true'], io)).toBe(2);
    expect(io.err()).toMatch(/unknown step "nope"/);
  });
});
