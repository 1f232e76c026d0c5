/**
 * The service's error answers: one JSON shape for every error (schema errors trigger a schema recheck,
 * unexpected 500s go to Sentry when it is configured) and a 404 naming the route that does not exist.
 */
import fp from 'fastify-plugin';
import type { ErrorReporter } from '../error-reporting.js';
import { makeErrorHandler } from '../errors.js';

export const errorHandling = fp<{
  exposeErrors: boolean;
  /** Undefined without a Sentry DSN. */
  reporter: ErrorReporter | undefined;
  onSchemaError: () => void;
}>(
  async (app, { exposeErrors, reporter, onSchemaError }) => {
    app.setErrorHandler(
      makeErrorHandler({
        exposeErrors,
        onSchemaError,
        ...(reporter
          ? {
              onServerError: (err, req) =>
                reporter.capture(err, { method: req.method, route: req.routeOptions.url ?? 'unmatched' }),
            }
          : {}),
      }),
    );
    if (reporter) app.addHook('onClose', async () => void (await reporter.flush(2000)));
    app.setNotFoundHandler((req, reply) =>
      reply.status(404).send({ error: 'not found', message: `no route ${req.method} ${req.url.split('?')[0]}` }),
    );
  },
  { name: 'kgraph-error-handling' },
);
