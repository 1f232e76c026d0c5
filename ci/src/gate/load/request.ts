/**
 * What is sent, pure: the request's bytes (built once per path), and the one rule for sending a request
 * again. A request that may have reached the server is never sent twice: its failure is its error. Only
 * a GET (idempotent) whose connection failed before any byte of it was written (a connect refused or
 * reset) may go once more, on a fresh connection, and the report counts it as a retry.
 */

export interface LoadRequest {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** A different path (and query) per request, e.g. to miss every cache; default the URL's own. */
  readonly pathOf?: (i: number) => string;
}

/** Bytes of one request: request line, headers and body. */
export function requestBytes(req: LoadRequest, url: URL, path: string): Buffer {
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  const lines = [`${req.method} ${path} HTTP/1.1`, `host: ${url.host}`, 'connection: keep-alive'];
  for (const [k, v] of Object.entries(req.headers)) {
    if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) throw new RangeError(`header ${k}: no line breaks allowed`);
    if (!/^(host|connection|content-length)$/i.test(k)) lines.push(`${k}: ${v}`);
  }
  if (body || req.method === 'POST') lines.push(`content-length: ${body?.length ?? 0}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return body ? Buffer.concat([head, body]) : head;
}

/** Whether a request whose connection failed may be sent again (once, on a fresh connection). */
export function mayResend(method: LoadRequest['method'], written: boolean, alreadyResent: boolean): boolean {
  return method === 'GET' && !written && !alreadyResent;
}

/** The request bytes for schedule index i: one buffer for a fixed path, else built per request. */
export function bytesSource(req: LoadRequest): (i: number) => Buffer {
  const url = new URL(req.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new RangeError(`expected an http(s) URL, got ${url.protocol}`);
  const fixed = requestBytes(req, url, url.pathname + url.search);
  const pathOf = req.pathOf;
  return pathOf ? (i) => requestBytes(req, url, pathOf(i)) : () => fixed;
}
