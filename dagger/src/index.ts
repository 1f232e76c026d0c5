/**
 * The KGraph-MCP pipeline as Dagger functions: the same steps as `kgraph-ci run`, in containers,
 * with ephemeral Postgres and Redis as service containers. Step commands live in ci/'s step table;
 * these functions only choose the container, its services and secrets, then run the step.
 *
 * One object per area, each in its own file, as Dagger's own CI module does: the root holds the
 * developer loop (the checks, coverage, serve, debug) and exposes `image`, `gate`, `delivery` and
 * `repo`. The checks stay on the root: `dagger check` finds checks on the root object (nested ones
 * were not detected in 0.19.11, dagger/dagger#11811).
 */
import { argument, check, func, object, Container, Directory, ReturnType, Secret, Service } from '@dagger.io/dagger';
import { Environment, Step } from './ci.generated.js';
import {
  REHEARSAL_REPORT_DIR,
  STEPS,
  WORKDIR,
  checkNodeVersion,
  findStep,
  runStepArgv,
  servicesOf,
  stepCommand,
} from './plan.js';
import { appService, serviceImage, stepContainer, stepRun } from './containers.js';
import { Delivery } from './delivery.js';
import { Gate } from './gate.js';
import { Images } from './image.js';
import { Repo } from './repo.js';

/** KGraph-MCP's pipeline: checks, image build and scan, the latency gate, delivery and policy. */
@object()
export class KgraphMcp {
  source: Directory;
  nodeVersion: string;

  constructor(
    /** The repository; by default the git root without dependencies, build output and history. */
    @argument({
      defaultPath: '/',
      ignore: ['**/node_modules', '**/dist', '.git', '**/coverage', 'dagger/sdk', '.reports'],
    })
    source: Directory,
    /** Node.js major version for step containers: "22" or "24". */
    nodeVersion = '22',
  ) {
    this.source = source;
    this.nodeVersion = checkNodeVersion(nodeVersion);
  }

  /**
   * ESLint over every workspace (step `lint`).
   * Example: `dagger call lint`
   */
  @func()
  @check()
  async lint(): Promise<void> {
    await stepRun(this, 'lint').sync();
  }

  /**
   * tsc over app, ci, tests and this module (step `typecheck`).
   * Example: `dagger call --node-version=24 typecheck`
   */
  @func()
  @check()
  async typecheck(): Promise<void> {
    await stepRun(this, 'typecheck').sync();
  }

  /**
   * Unit tests, no services (step `test`).
   * Example: `dagger call test`
   */
  @func()
  @check()
  async test(): Promise<void> {
    await stepRun(this, 'test').sync();
  }

  /**
   * Integration tests against ephemeral Postgres and Redis service containers (step `integration-test`).
   * Example: `dagger call integration-test`
   */
  @func()
  @check()
  async integrationTest(): Promise<void> {
    await stepRun(this, 'integrationTest').sync();
  }

  /**
   * Migrations new since the newest v* tag, linted with squawk and the project rules (step
   * `migrations-check`). `repo` keeps .git: the base is read from the history, which `source` leaves out.
   * Example: `dagger call migrations-check`
   */
  @func()
  @check()
  async migrationsCheck(
    @argument({ defaultPath: '/', ignore: ['**/node_modules', '**/dist', '**/coverage', 'dagger/sdk'] })
    repo: Directory,
  ): Promise<void> {
    await stepContainer(this, 'migrationsCheck', servicesOf('migrationsCheck'))
      .withDirectory(`${WORKDIR}/.git`, repo.directory('.git'))
      .withExec(runStepArgv('migrationsCheck'))
      .sync();
  }

  /**
   * The rollout rehearsal (step `rollout-rehearsal`): the previous release (newest v* tag; this tree when
   * there is none, said so) behind a round-robin proxy under load, the migration, a rolling update to this
   * tree and an automatic rollback. Returns report.md (table, timeline chart), report.json and exit-code,
   * also when it failed, so the workflow puts the report in the job summary and then fails with its code.
   * Example: `dagger call rollout-rehearsal export --path .reports/rollout`
   */
  // Never replayed: its previous release (the newest v* tag) moves without the tree changing, and it measures now.
  @func({ cache: 'never' })
  async rolloutRehearsal(
    @argument({ defaultPath: '/', ignore: ['**/node_modules', '**/dist', '**/coverage', 'dagger/sdk'] })
    repo: Directory,
  ): Promise<Directory> {
    const ran = stepContainer(this, 'rolloutRehearsal', servicesOf('rolloutRehearsal'))
      .withDirectory(`${WORKDIR}/.git`, repo.directory('.git'))
      .withExec([...stepCommand('rolloutRehearsal', {}), '--report-dir', REHEARSAL_REPORT_DIR], {
        expect: ReturnType.Any,
      });
    const code = await ran.exitCode();
    const out = ran.withExec(['mkdir', '-p', REHEARSAL_REPORT_DIR]).directory(`${WORKDIR}/${REHEARSAL_REPORT_DIR}`);
    // A run that ended before its report (bad usage, a crash) still leaves why, never an empty summary.
    const fallback = `## Rollout rehearsal: did not finish (exit ${code})\n\n\`\`\`\n${(await ran.stderr()).slice(-4_000)}\n\`\`\`\n`;
    const hasReport = (await out.entries()).includes('report.md');
    return (hasReport ? out : out.withNewFile('report.md', fallback)).withNewFile('exit-code', `${code}\n`);
  }

  /**
   * Every test with coverage, services bound; returns the coverage report directory.
   * Example: `dagger call coverage export --path coverage`
   */
  @func()
  async coverage(): Promise<Directory> {
    const [report] = STEPS.coverage.cache.outputs;
    return stepRun(this, 'coverage').directory(`${WORKDIR}/${report}`);
  }

  /**
   * The built service on fresh Postgres and Redis, migrated and seeded, listening on 8000. Without an
   * API key, the service gets a random one generated inside the engine (health endpoints need none).
   * Example: `dagger call serve --api-key env://API_KEY up --ports 8000:8000`
   */
  @func()
  async serve(environment: Environment = Environment.dev, apiKey?: Secret): Promise<Service> {
    return appService(this, serviceImage(this, environment), environment, apiKey);
  }

  /**
   * The container a step runs in, services bound and source mounted, not yet run (step names as
   * `--help` lists them, any case).
   * Example: `dagger call debug --step integration_test terminal`
   */
  @func()
  async debug(step: Step): Promise<Container> {
    const name = findStep(step);
    return stepContainer(this, name, servicesOf(name)).withDefaultTerminalCmd(['bash']);
  }

  /**
   * The service image: build, scan, publish, publish-candidate.
   * Example: `dagger call image build --environment=staging`
   */
  @func()
  image(): Images {
    return new Images(this.source, this.nodeVersion);
  }

  /**
   * The latency gate inside the engine.
   * Example: `dagger call gate latency-gate --environment=staging`
   */
  @func()
  gate(): Gate {
    return new Gate(this.source, this.nodeVersion);
  }

  /**
   * Deploy, rollback, watch, release, promotion-candidate, delivery-report. `repo` keeps .git: a deploy's
   * migrations-check phase reads the history (which `source` leaves out) and refuses without it.
   * Example: `dagger call delivery rollback --environment=staging --kubeconfig=file://$HOME/.kube/config`
   */
  @func()
  delivery(
    @argument({ defaultPath: '/', ignore: ['**/node_modules', '**/dist', '**/coverage', 'dagger/sdk'] })
    repo?: Directory,
  ): Delivery {
    // Optional only for callers in TypeScript (tests): from the CLI the engine always supplies the default path.
    const source = repo ? this.source.withDirectory('.git', repo.directory('.git')) : this.source;
    return new Delivery(source, this.nodeVersion);
  }

  /**
   * Branch and tag policy, release cut, branch protection.
   * Example: `dagger call repo policy-pr --source=feature/search --target=develop`
   */
  @func()
  repo(): Repo {
    return new Repo(this.source, this.nodeVersion);
  }
}
