/**
 * Slack incoming webhooks through @slack/webhook, with its retry policy (p-retry over 5xx and network
 * errors; 4xx is final). The URL is the secret: it is never part of an error this module raises.
 */
import { IncomingWebhook } from '@slack/webhook';
import type { SlackMessage } from './announcement.js';
import { DEFAULT_RETRY, type RetryPolicy } from './http.js';

export interface SlackConfig {
  readonly webhookUrl: string;
  readonly fetch?: typeof fetch;
  readonly retry?: RetryPolicy;
}

/** Checks the URL's shape without echoing it (it holds the token). */
export function checkWebhookUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'SLACK_WEBHOOK_URL is not a URL (value not shown)';
  }
  if (url.username || url.password) return 'SLACK_WEBHOOK_URL must not carry user:password@ (value not shown)';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && ['127.0.0.1', 'localhost'].includes(url.hostname)))
    return 'SLACK_WEBHOOK_URL must be https (value not shown)';
  return undefined;
}

export function slackWebhook(c: SlackConfig): { send(m: SlackMessage): Promise<void> } {
  const retry = c.retry ?? DEFAULT_RETRY;
  const hook = new IncomingWebhook(c.webhookUrl, {
    timeout: retry.timeoutMs,
    retryConfig: { retries: retry.retries, minTimeout: retry.minTimeoutMs, factor: 2, randomize: true },
    ...(c.fetch ? { fetch: c.fetch as never } : {}),
  });
  return {
    async send(m) {
      try {
        await hook.send({ text: m.text, blocks: m.blocks as never });
      } catch (err) {
        const e = err as { statusCode?: number; name?: string };
        // eslint-disable-next-line preserve-caught-error -- the cause may carry the webhook URL (the secret)
        throw new Error(`Slack webhook: ${e.statusCode ? `HTTP ${e.statusCode}` : (e.name ?? 'request failed')}`);
      }
    },
  };
}
