/**
 * Errors the API answers with, and the one error handler that turns anything thrown into a safe reply:
 * 4xx with the field and reason, 503 when a dependency is down, and never a stack trace outside dev.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

export interface FieldProblem {
  readonly field: string;
  readonly reason: string;
}

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    message: string,
    readonly details?: readonly FieldProblem[],
  ) {
    super(message);
  }
}

export const badRequest = (field: string, reason: string) =>
  new HttpError(400, 'bad request', `${field}: ${reason}`, [{ field, reason }]);
export const notFound = (what: string) => new HttpError(404, 'not found', `${what} not found`);
export const conflict = (field: string, reason: string) =>
  new HttpError(409, 'conflict', `${field}: ${reason}`, [{ field, reason }]);
export const unavailable = (reason: string) => new HttpError(503, 'service unavailable', reason);

/** The message of anything thrown. */
export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** What a log line carries of an error: its message only, never the error object with its fields. */
export const logErr = (err: unknown): { message: string } => ({ message: errorMessage(err) });

interface AjvIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** "/relations/0/kind" → "relations[0].kind"; the context (body, querystring…) prefixes it. */
export function fieldOf(context: string | undefined, issue: AjvIssue): string {
  const parts = issue.instancePath
    .split('/')
    .filter(Boolean)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const extra = issue.params.missingProperty ?? issue.params.additionalProperty;
  if (typeof extra === 'string') parts.push(extra);
  const path = parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
  const ctx = context === 'querystring' ? 'query' : (context ?? 'request');
  return path ? `${ctx}.${path}` : ctx;
}

export function reasonOf(issue: AjvIssue): string {
  if (issue.keyword === 'additionalProperties') return 'unknown field';
  if (issue.keyword === 'required') return 'is required';
  return issue.message ?? issue.keyword;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
]);

/** pg errors that mean "the database is not reachable right now", as opposed to a bad query. */
export function isUnavailableError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|connect ECONNREFUSED|Client has encountered a connection error|Connection ended/i.test(
    err.message,
  );
}

/**
 * Postgres errors a retry can cure: a statement cancelled by the statement timeout (for instance waiting
 * for a lock behind a long transaction), a lock not available, a serialization failure or deadlock.
 */
const TRANSIENT_CODES = new Set(['57014', '55P03', '40001', '40P01']);
export function isTransientError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}

/** Postgres errors that mean "the schema is not what this code needs" (a missing table, column, index...). */
const SCHEMA_CODES = new Set(['42P01', '42703', '42883', '42704', '42P10', '3F000']);
export function isSchemaError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && SCHEMA_CODES.has(code);
}

export function makeErrorHandler(opts: {
  exposeErrors: boolean;
  onSchemaError?: () => void;
  /** An unexpected 500 (a bug): reported to Sentry when it is configured. */
  onServerError?: (err: Error, request: FastifyRequest) => void;
}) {
  return function errorHandler(err: FastifyError | HttpError | Error, request: FastifyRequest, reply: FastifyReply) {
    const fe = err as FastifyError;
    if (fe.validation) {
      const details = fe.validation.map((v) => ({
        field: fieldOf(fe.validationContext, v as AjvIssue),
        reason: reasonOf(v as AjvIssue),
      }));
      const first = details[0]!;
      return reply.status(400).send({ error: 'bad request', message: `${first.field}: ${first.reason}`, details });
    }
    if (err instanceof HttpError) {
      if (err.statusCode >= 500) request.log.warn({ reason: err.message }, 'request failed: dependency unavailable');
      return reply
        .status(err.statusCode)
        .send({ error: err.error, message: err.message, ...(err.details ? { details: err.details } : {}) });
    }
    if (isSchemaError(err)) {
      request.log.error(
        { err: { message: err.message, code: (err as { code?: string }).code } },
        'database schema is not as expected',
      );
      opts.onSchemaError?.();
      return reply.status(503).send({ error: 'service unavailable', message: 'database schema is not as expected' });
    }
    if (isTransientError(err)) {
      request.log.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'database busy');
      return reply
        .status(503)
        .header('retry-after', '1')
        .send({ error: 'service unavailable', message: 'database busy; retry' });
    }
    if (isUnavailableError(err)) {
      request.log.warn({ err: { message: err.message } }, 'database unavailable');
      return reply.status(503).send({ error: 'service unavailable', message: 'database unavailable' });
    }
    const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
    if (status >= 400 && status < 500) {
      // Fastify's own client errors (bad JSON, body too large, wrong content type): their messages are safe.
      return reply.status(status).send({ error: errorName(status), message: err.message });
    }
    request.log.error({ err }, 'unhandled error');
    opts.onServerError?.(err, request);
    return reply
      .status(500)
      .send({ error: 'internal error', ...(opts.exposeErrors ? { message: err.message, stack: err.stack } : {}) });
  };
}

/**
 * The router's own refusals (a path that does not decode, a path parameter over maxParamLength), which
 * fastify answers before any route or error handler: the same error shape as every other 4xx, without
 * echoing the path back (it may be kilobytes of whatever the client sent).
 */
export function frameworkErrorReply(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status =
    typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  const message =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'a path segment is longer than this service accepts'
      : err.code === 'FST_ERR_BAD_URL'
        ? 'the path is not valid percent-encoding'
        : 'the request could not be routed';
  void reply.status(status).send({ error: errorName(status), message });
}

function errorName(status: number): string {
  switch (status) {
    case 400:
      return 'bad request';
    case 401:
      return 'unauthorized';
    case 404:
      return 'not found';
    case 413:
      return 'payload too large';
    case 414:
      return 'uri too long';
    case 415:
      return 'unsupported media type';
    default:
      return 'client error';
  }
}
