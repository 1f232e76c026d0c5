/**
 * The bare node:http baseline of the cached read (bench/app-latency.ts, bench/read-instructions.ts): a
 * server that answers the very bytes the service's cached endpoint sends (same headers, same body), plus a
 * minimal response on /tiny for reference. One definition, so the ratio and the instruction count compare
 * against the same baseline.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** Hop-by-hop and per-response headers node:http writes itself; the rest of the service's are copied. */
const HOP = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);

export interface Sample {
  readonly payload: Buffer;
  readonly headers: Record<string, string>;
}

/** One response of the service's cached endpoint, as the baseline must repeat it. */
export async function sampleResponse(url: string, headers: Record<string, string>): Promise<Sample> {
  const res = await fetch(url, { headers });
  if (!res.ok) throw new Error(`sample ${url}: HTTP ${res.status}`);
  const payload = Buffer.from(await res.arrayBuffer());
  return { payload, headers: Object.fromEntries([...res.headers].filter(([k]) => !HOP.has(k))) };
}

const SCRIPT = `const body = Buffer.from(process.argv[1], 'base64'); const h = JSON.parse(process.argv[2]); const tiny = Buffer.from('{"ok":true}');
       require('http').createServer((q, s) => { if (q.url === '/tiny') { s.writeHead(200, { 'content-type': 'application/json' }); s.end(tiny); } else { s.writeHead(200, h); s.end(body); } }).listen(Number(process.argv[3]), '127.0.0.1', () => console.log('listening'))`;

/** node's argv for the baseline (`prefix` runs it under a tool, e.g. valgrind). */
export function bareServerArgv(sample: Sample, port: number): string[] {
  return ['-e', SCRIPT, sample.payload.toString('base64'), JSON.stringify(sample.headers), String(port)];
}

/** Starts the baseline (on `node`, the service's Node) and resolves once it listens. */
export async function startBareServer(
  sample: Sample,
  port: number,
  prefix: string[] = [],
  node = process.execPath,
): Promise<ChildProcess> {
  const [cmd, ...rest] = [...prefix, node, ...bareServerArgv(sample, port)];
  const proc = spawn(cmd!, rest, { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('listening')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`bare server exited (${code}) before listening`)));
  });
  return proc;
}
