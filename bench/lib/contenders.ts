// The throughput contenders, all forwarding to the same upstream: direct (the ceiling), nginx as a
// reverse proxy with upstream keep-alive, node http-proxy, and Switchyard (the real controller).
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { start } from './procs.ts';
import { freePort } from './net.ts';
import { startNginx, proxyConfig } from './nginx.ts';
import { SERVER_CORE } from './load.ts';
import type { Upstream } from './upstreams.ts';
import type { BenchContext } from './context.ts';
import { ManifestDir, docs, ingressClassYaml, ingressYaml, serviceYaml } from './manifests.ts';
import { startSwitchyard, configKnowsFlag } from './switchyard.ts';

export type ContenderName = 'direct' | 'nginx' | 'http-proxy' | 'switchyard';
export const CONTENDERS: readonly ContenderName[] = ['direct', 'nginx', 'http-proxy', 'switchyard'];

export interface Contender {
  readonly name: ContenderName;
  readonly port: number;
  readonly host: string;
  /** The contender's own processes (CPU per request); empty for direct. */
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

export const BENCH_HOST = 'bench.local';

/**
 * Switchyard "as shipped" for throughput: default flags (routing, metrics on), except the access
 * log, which is off like nginx's here (its cost is the overheads scenario's job).
 */
export function SHIPPED_ARGS(): string[] {
  return configKnowsFlag('access-log') ? ['--access-log=false'] : [];
}
const httpProxyScript = fileURLToPath(new URL('../servers/http-proxy.ts', import.meta.url));

/** Writes the manifests for one route BENCH_HOST/ -> svc bench-up -> the upstream; returns the folder. */
export function benchManifests(ctx: Pick<BenchContext, 'tmp'>, upstreamPort: number): ManifestDir {
  const dir = new ManifestDir(mkdtempSync(join(ctx.tmp, 'switchyard-')));
  dir.write('class.yaml', ingressClassYaml());
  dir.write('bench.yaml', docs(serviceYaml('bench-up', upstreamPort, ['127.0.0.1']), ingressYaml('bench', BENCH_HOST, 'bench-up')));
  return dir;
}

export async function startContender(name: ContenderName, ctx: BenchContext, upstream: Upstream, extraArgs: readonly string[] = []): Promise<Contender> {
  switch (name) {
    case 'direct':
      return { name, port: upstream.port, host: BENCH_HOST, pids: [], stop: async () => {} };
    case 'nginx': {
      if (!ctx.nginx) throw new Error('nginx is not available');
      const port = await freePort();
      const dir = mkdtempSync(join(ctx.tmp, 'nginx-proxy-'));
      const instance = await startNginx(ctx.nginx, dir, port, proxyConfig(dir, port, [{ host: BENCH_HOST, upstreamPorts: [upstream.port] }]), SERVER_CORE);
      return { name, port, host: BENCH_HOST, pids: [instance.proc.pid], stop: () => instance.stop() };
    }
    case 'http-proxy': {
      const proc = start('http-proxy', process.execPath, [httpProxyScript, String(upstream.port)], { core: SERVER_CORE });
      const m = await proc.waitForLine(/^listening (\d+)/, 10_000);
      return { name, port: Number(m[1]), host: BENCH_HOST, pids: [proc.pid], stop: () => proc.stop() };
    }
    case 'switchyard': {
      const manifests = benchManifests(ctx, upstream.port);
      const sy = await startSwitchyard({
        manifests: manifests.dir,
        core: SERVER_CORE,
        extraArgs: extraArgs.length ? extraArgs : SHIPPED_ARGS(),
        probe: { host: BENCH_HOST, path: '/b100', upstream: upstream.name },
      });
      return { name, port: sy.port, host: BENCH_HOST, pids: [sy.proc.pid], stop: () => sy.stop() };
    }
  }
}
