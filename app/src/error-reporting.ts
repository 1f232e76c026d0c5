/**
 * Error reporting to Sentry (@sentry/node) when SENTRY_DSN is set, and nothing at all when it is not (no
 * client, no transport, no hook). One client per app instance (not the global hub), with no automatic
 * integrations: no request bodies, headers, cookies, query strings, user or IP ever leave the process; an
 * event carries the error, the route template, the method, the release (APP_VERSION) and the environment.
 */
import { defaultStackParser, makeNodeTransport, NodeClient, Scope, type ErrorEvent } from '@sentry/node';

export interface ErrorReporter {
  /** A server error (500) the service did not expect. */
  capture(err: Error, where: { readonly method: string; readonly route: string }): void;
  /** Sends what is queued (shutdown). */
  flush(timeoutMs: number): Promise<boolean>;
}

/** Drops everything that could hold a body, a key or personal data, whatever a future integration adds. */
export function scrubEvent(event: ErrorEvent): ErrorEvent {
  const { request, user: _user, breadcrumbs: _breadcrumbs, extra: _extra, ...rest } = event;
  return {
    ...rest,
    ...(request ? { request: { method: request.method, url: request.url?.split('?')[0] } } : {}),
  } as ErrorEvent;
}

export function createErrorReporter(opts: {
  dsn: string | undefined;
  release: string | undefined;
  environment: string;
}): ErrorReporter | undefined {
  if (!opts.dsn) return undefined;
  const client = new NodeClient({
    dsn: opts.dsn,
    ...(opts.release ? { release: opts.release } : {}),
    environment: opts.environment,
    integrations: [],
    stackParser: defaultStackParser,
    transport: makeNodeTransport,
    beforeSend: scrubEvent,
    maxBreadcrumbs: 0,
  });
  const scope = new Scope();
  scope.setClient(client);
  client.init();
  return {
    capture(err, where) {
      const s = scope.clone();
      s.setTag('route', where.route);
      s.setTag('method', where.method);
      s.captureException(err);
    },
    flush: async (timeoutMs) => client.flush(timeoutMs),
  };
}
