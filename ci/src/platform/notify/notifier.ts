/**
 * Tells the channels that are configured (each optional, by its secret) about a deploy or a rollback:
 * Slack, the status page (prod's component only) and Sentry releases. A notifier never throws and never
 * holds a deploy up for long: every call is retried with backoff inside a time budget, failures are logged
 * (secrets masked) and reported back, and the deploy goes on whatever they say.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import { slackMessage, statusPageAction, type Announcement } from './announcement.js';
import { DEFAULT_RETRY, type RetryPolicy } from './http.js';
import { redactor } from './redact.js';
import { sentryReleases, type SentryReleases } from './sentry-releases.js';
import { checkWebhookUrl, slackWebhook } from './slack.js';
import { statusPage, type StatusPage } from './statuspage.js';

export interface NotifierOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
  readonly fetch?: typeof fetch;
  readonly retry?: RetryPolicy;
  /** Longest a single announcement may hold the caller up; past it the caller goes on (default 20 s). */
  readonly budgetMs?: number;
  /** The commit of the previous release in an environment (from the ledger), for Sentry's commit range. */
  readonly previousCommit?: (environment: string, commit: string) => Promise<string | undefined>;
  readonly now?: () => number;
}

export interface ChannelResult {
  readonly channel: 'slack' | 'statuspage' | 'sentry';
  readonly action: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface Notifier {
  /** Which channels are on, and why the others are off (never a value). */
  readonly channels: readonly string[];
  announce(env: EnvironmentDefinition, a: Announcement): Promise<readonly ChannelResult[]>;
}

/** The variables each channel needs; a channel with any of them unset is off. */
export const CHANNEL_VARIABLES = {
  slack: ['SLACK_WEBHOOK_URL'],
  statuspage: ['STATUSPAGE_API_KEY', 'STATUSPAGE_PAGE_ID'],
  sentry: ['SENTRY_AUTH_TOKEN', 'SENTRY_ORG', 'SENTRY_PROJECT'],
} as const;

const SECRET_VARIABLES = ['SLACK_WEBHOOK_URL', 'STATUSPAGE_API_KEY', 'SENTRY_AUTH_TOKEN'];

/** What each channel's part needs from the notifier: a masked log and a way to run one call as a result. */
interface Context {
  readonly log: (line: string) => void;
  readonly attempt: (
    channel: ChannelResult['channel'],
    action: string,
    fn: () => Promise<string>,
  ) => Promise<ChannelResult>;
}

type Part = (env: EnvironmentDefinition, a: Announcement) => Promise<ChannelResult[]>;

export function createNotifier(o: NotifierOptions): Notifier {
  const redact = redactor(SECRET_VARIABLES.map((k) => o.env[k]));
  const log = (line: string) => o.log(redact(line));
  const ctx: Context = { log, attempt: attempter(log, redact) };
  const now = o.now ?? Date.now;
  const clients = openClients(o, log, now);
  const channels = reportChannels(clients, log);
  const parts: Part[] = [
    slackPart(ctx, clients.slack),
    statusPart(ctx, clients.page, o.env),
    sentryPart(ctx, clients.sentry, now, o.previousCommit),
  ];
  return {
    channels,
    async announce(env, a) {
      const work = Promise.all(parts.map((part) => part(env, a))).then((results) => results.flat());
      return withinBudget(work, o.budgetMs ?? 20_000, () =>
        log(`notify: still trying after ${(o.budgetMs ?? 20_000) / 1000}s; the ${a.operation} goes on without waiting`),
      );
    },
  };
}

interface Clients {
  readonly slack: ReturnType<typeof slackWebhook> | undefined;
  readonly page: StatusPage | undefined;
  readonly sentry: SentryReleases | undefined;
}

/** A client for each channel whose variables are all set (Slack also needs a webhook URL that passes the check). */
function openClients(o: NotifierOptions, log: (line: string) => void, now: () => number): Clients {
  const e = o.env;
  const retry = o.retry ?? DEFAULT_RETRY;
  const fetchOption = o.fetch ? { fetch: o.fetch } : {};
  const net = { ...fetchOption, retry, onRetry: (m: string) => log(`notify: ${m}`) };
  const has = (vars: readonly string[]) => vars.every((v) => e[v]);
  const slackProblem = e.SLACK_WEBHOOK_URL ? checkWebhookUrl(e.SLACK_WEBHOOK_URL) : undefined;
  if (slackProblem) log(`notify: Slack off: ${slackProblem}`);
  return {
    slack:
      e.SLACK_WEBHOOK_URL && !slackProblem
        ? slackWebhook({ webhookUrl: e.SLACK_WEBHOOK_URL, retry, ...fetchOption })
        : undefined,
    page: has(CHANNEL_VARIABLES.statuspage)
      ? statusPage({
          apiKey: e.STATUSPAGE_API_KEY!,
          pageId: e.STATUSPAGE_PAGE_ID!,
          ...(e.STATUSPAGE_API_URL ? { baseUrl: e.STATUSPAGE_API_URL } : {}),
          now,
          ...net,
        })
      : undefined,
    sentry: has(CHANNEL_VARIABLES.sentry)
      ? sentryReleases({
          token: e.SENTRY_AUTH_TOKEN!,
          org: e.SENTRY_ORG!,
          project: e.SENTRY_PROJECT!,
          ...(e.GITHUB_REPOSITORY ? { repository: e.GITHUB_REPOSITORY } : {}),
          ...(e.SENTRY_URL ? { baseUrl: e.SENTRY_URL } : {}),
          ...net,
        })
      : undefined,
  };
}

/** The names of the channels that are on; the others are logged with the variables they need (never a value). */
function reportChannels(clients: Clients, log: (line: string) => void): string[] {
  const channels: string[] = [];
  const off: string[] = [];
  for (const [name, on] of [
    ['slack', clients.slack],
    ['statuspage', clients.page],
    ['sentry', clients.sentry],
  ] as const) {
    if (on) channels.push(name);
    else off.push(`${name} (needs ${CHANNEL_VARIABLES[name].join(', ')})`);
  }
  if (off.length) log(`notify: off: ${off.join('; ')}`);
  return channels;
}

/** One call to a channel as a result: never throws, logs the outcome, and masks secrets in what it returns. */
function attempter(log: (line: string) => void, redact: (text: string) => string): Context['attempt'] {
  return async (channel, action, fn) => {
    try {
      const detail = await fn();
      log(`notify: ${channel} ${action}: ${detail}`);
      return { channel, action, ok: true, detail: redact(detail) };
    } catch (err) {
      const detail = redact((err as Error).message);
      log(`notify: ${channel} ${action} FAILED (the deploy goes on): ${detail}`);
      return { channel, action, ok: false, detail };
    }
  };
}

/** The results if they come within the budget; past it the caller goes on with none (the calls keep trying). */
async function withinBudget(
  work: Promise<ChannelResult[]>,
  budgetMs: number,
  onLate: () => void,
): Promise<ChannelResult[]> {
  const ac = new AbortController();
  const timeout = delay(budgetMs, 'timeout' as const, { signal: ac.signal }).catch(() => 'aborted' as const);
  const result = await Promise.race([work, timeout]);
  ac.abort();
  if (result === 'timeout' || result === 'aborted') {
    onLate();
    return [];
  }
  return result;
}

function slackPart(ctx: Context, slack: Clients['slack']): Part {
  return async (_env, a) =>
    slack
      ? [
          await ctx.attempt('slack', `${a.operation} ${a.stage}`, async () => {
            await slack.send(slackMessage(a));
            return 'message sent';
          }),
        ]
      : [];
}

/** The status page's part: open or close a maintenance, or open an incident, on the environment's component. */
function statusPart(ctx: Context, page: StatusPage | undefined, e: NodeJS.ProcessEnv): Part {
  /** Open maintenances by environment, so the deploy's end closes the one its start opened. */
  const maintenances = new Map<string, string>();
  return async (env, a) => {
    const action = statusPageAction(env, a);
    if (!page || !action) return [];
    const component = e[action.componentIdVariable];
    if (!component) {
      ctx.log(`notify: statuspage ${action.kind} skipped: ${action.componentIdVariable} is not set`);
      return [
        { channel: 'statuspage', action: action.kind, ok: false, detail: `${action.componentIdVariable} is not set` },
      ];
    }
    switch (action.kind) {
      case 'open-maintenance':
        return [
          await ctx.attempt('statuspage', action.kind, async () => {
            const id = await page.openMaintenance(component, a);
            maintenances.set(env.name, id);
            return `maintenance ${id} on component ${component}`;
          }),
        ];
      case 'close-maintenance': {
        const id = maintenances.get(env.name);
        maintenances.delete(env.name);
        if (!id) return [];
        return [
          await ctx.attempt('statuspage', action.kind, async () => {
            await page.closeMaintenance(id, component, a);
            return `maintenance ${id} completed`;
          }),
        ];
      }
      case 'open-incident':
        return [
          await ctx.attempt('statuspage', action.kind, async () => `incident ${await page.openIncident(component, a)}`),
        ];
    }
  };
}

/** Sentry's part: a release (with its commit range) when a deploy starts, a deploy where a version went live. */
function sentryPart(
  ctx: Context,
  sentry: SentryReleases | undefined,
  now: () => number,
  previousCommitOf: NotifierOptions['previousCommit'],
): Part {
  const started = new Map<string, string>();
  return async (_env, a) => {
    if (!sentry) return [];
    const key = `${a.environment} ${a.version}`;
    if (a.operation === 'deploy' && a.stage === 'started') {
      started.set(key, new Date(now()).toISOString());
      return [
        await ctx.attempt('sentry', 'release', async () => {
          const previousCommit = a.commit ? await previousCommitOf?.(a.environment, a.commit) : undefined;
          await sentry.prepare({
            version: a.version,
            ...(a.commit ? { commit: a.commit } : {}),
            ...(previousCommit ? { previousCommit } : {}),
          });
          return `release ${a.version}${a.commit ? `, commits ${previousCommit ? `${previousCommit.slice(0, 12)}..` : 'up to '}${a.commit.slice(0, 12)}` : ''}`;
        }),
      ];
    }
    // A deploy is recorded where a version went live: a successful deploy, or a rollback to a known version.
    if (a.stage !== 'succeeded' || a.version === 'previous') return [];
    const finishedAt = new Date(now()).toISOString();
    const startedAt = started.get(key) ?? new Date(now() - (a.durationMs ?? 0)).toISOString();
    started.delete(key);
    return [
      await ctx.attempt('sentry', 'deploy', async () => {
        await sentry.recordDeploy({
          version: a.version,
          environment: a.environment,
          url: a.links.environment,
          startedAt,
          finishedAt,
        });
        return `deploy of ${a.version} to ${a.environment}`;
      }),
    ];
  };
}
