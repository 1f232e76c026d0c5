/**
 * Service containers on a host network: each service gets its own loopback address (127.x.y.z, never a
 * private range) and listens there on its real port, so two Postgres services and the host's own
 * servers live side by side; a container reaches it under its alias with --add-host. Inside a service,
 * 127.0.0.1 would be the host, not the service itself: its healthcheck is run with that address replaced
 * by the service's own, and the service gets HOST=<its address> (what the app and the stand-ins listen on).
 */
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { boundHosts, runSpecOf, type RehearsalEngine, type ServiceStarter } from './engine.js';
import { startContainer } from './docker-steps.js';
import type { Service } from './values.js';

/** Loopback addresses for one process: 127.<from pid>.<n>.<n>, away from 127.0.0.1. */
export function loopbackAllocator(pid = process.pid): () => string {
  let n = 0;
  const second = 100 + (pid % 150);
  return () => {
    n++;
    return `127.${second}.${Math.floor(n / 250)}.${(n % 250) + 2}`;
  };
}

/** Starts each service definition once per rehearsal; answers its address once it is ready. */
export function serviceStarter(allocate: () => string, timeoutMs = 240_000): ServiceStarter {
  const running = new Map<string, Promise<string>>();
  return (e, svc) => {
    let found = running.get(svc.key);
    if (!found) {
      found = startService(e, svc, allocate(), timeoutMs);
      running.set(svc.key, found);
    }
    return found;
  };
}

export async function startService(e: RehearsalEngine, svc: Service, ip: string, timeoutMs: number): Promise<string> {
  const ctr = { ...svc.container, env: [...svc.container.env.filter(([k]) => k !== 'HOST'), ['HOST', ip] as const] };
  const hosts = await boundHosts(e, ctr);
  let argv: readonly string[] = [];
  if (svc.args && svc.args.length > 0) {
    argv = svc.useEntrypoint ? [...(await entrypointOf(e, ctr.image!)), ...svc.args] : svc.args;
  }
  const what = `service ${svc.container.base ?? 'container'} at ${ip}`;
  e.opts.log(`start ${what}`);
  const name = await startContainer(e.opts.session, runSpecOf(e, ctr, argv, hosts));
  const started = Date.now();
  const hc = svc.container.healthcheck;
  const deadline =
    started + Math.min(timeoutMs, hc ? hc.startPeriodMs + (hc.retries + 1) * hc.intervalMs + 30_000 : timeoutMs);
  for (;;) {
    if (hc) {
      const args = hc.args.map((a) => a.replaceAll('127.0.0.1', ip).replaceAll('localhost', ip));
      const res = await e.opts.session.docker(['exec', name, ...args], { timeoutMs: 15_000 });
      if (res.code === 0) break;
    } else if ((await Promise.all(svc.container.ports.map((p) => tcpOpen(ip, p)))).every(Boolean)) break;
    const state = await e.opts.session.docker(['inspect', '--format', '{{.State.Running}}', name]);
    if (state.stdout.trim() !== 'true' || Date.now() > deadline) {
      const logs = await e.opts.session.docker(['logs', '--tail', '30', name]);
      throw new Error(
        `${what} did not become ready (${state.stdout.trim() === 'true' ? 'timed out' : 'exited'}):\n${(logs.stdout + logs.stderr).trim()}`,
      );
    }
    await sleep(hc ? Math.min(hc.intervalMs, 2000) : 500);
  }
  e.opts.log(`ready ${what} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return ip;
}

async function entrypointOf(e: RehearsalEngine, image: string): Promise<string[]> {
  const res = await e.opts.session.docker(['image', 'inspect', '--format', '{{json .Config.Entrypoint}}', image]);
  const parsed = JSON.parse(res.stdout.trim() || 'null') as string[] | null;
  return parsed ?? [];
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
