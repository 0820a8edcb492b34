// Which fast local upstream to use: node:http vs nginx `return 200`, measured direct (no proxy)
// on the server core. The faster one is used by every other scenario, so the upstream is not
// what limits the proxies.
import type { Scenario } from './scenario.ts';
import { result } from './scenario.ts';
import { startUpstream, type Upstream, type UpstreamKind } from '../lib/upstreams.ts';
import { compare } from '../lib/compare.ts';
import { BENCH_HOST } from '../lib/contenders.ts';
import { num } from '../lib/report.ts';

export const upstreamScenario: Scenario = {
  name: 'upstream',
  title: 'Fast local upstream: node:http vs nginx return 200 (direct)',
  async run(ctx, shared) {
    if (!ctx.nginx) {
      shared.upstreamKind = 'node';
      return result(ctx, 'upstream', { status: 'partial', note: 'nginx not available: using the node:http upstream unmeasured', data: { choice: 'node' } });
    }
    const started: Upstream[] = [];
    try {
      for (const kind of ['node', 'nginx'] as const) started.push(await startUpstream(kind, `up-${kind}`, ctx.tmp, ctx.nginx));
      const cases = [
        { size: 100, connections: 50 },
        { size: 16384, connections: 50 },
      ];
      const figures = await compare(
        started.map((u) => ({ label: u.kind, port: u.port, host: BENCH_HOST, pids: [u.pid] })),
        cases,
        { rounds: ctx.rounds, durationSec: Math.min(ctx.durationSec, 5), warmupSec: ctx.quick ? 1 : 2, log: ctx.log },
      );
      // The upstream shares the server core with the proxy, so what matters is its CPU per request
      // (robust to noise); req/s decides only if CPU could not be read.
      const cpu = (kind: UpstreamKind): number => figures.reduce((sum, f) => sum + (f.contenders[kind]?.cpuUsPerReq ?? NaN), 0);
      const rps = (kind: UpstreamKind): number => figures.reduce((sum, f) => sum + (f.contenders[kind]?.rps ?? 0) / Math.max(1, f.contenders.node?.rps ?? 1), 0);
      const byCpu = Number.isFinite(cpu('node')) && Number.isFinite(cpu('nginx'));
      const choice: UpstreamKind = byCpu ? (cpu('nginx') < cpu('node') ? 'nginx' : 'node') : rps('nginx') > rps('node') ? 'nginx' : 'node';
      shared.upstreamKind = choice;
      const summary = figures
        .map((f) => `${f.label}: node ${f.contenders.node.rps} req/s ${f.contenders.node.cpuUsPerReq} µs CPU/req, nginx ${f.contenders.nginx.rps} req/s ${f.contenders.nginx.cpuUsPerReq} µs CPU/req`)
        .join('; ');
      ctx.log(`upstream: using ${choice} (${summary})`);
      return result(ctx, 'upstream', {
        status: 'ok',
        note: `the ${choice} upstream is cheaper per request (${byCpu ? 'CPU per request' : 'req/s'}) and is used by every scenario, so the upstream takes as little as possible of the core it shares with the proxy (${summary})`,
        settings: { rounds: ctx.rounds, durationSec: Math.min(ctx.durationSec, 5) },
        data: { choice, figures: figures.map((f) => ({ label: f.label, node: f.contenders.node, nginx: f.contenders.nginx })) },
      });
    } finally {
      for (const u of started) await u.stop();
    }
  },
  markdown(r) {
    type F = { rps: number; p99: number; cpuUsPerReq?: number };
    const data = r.data as { choice: string; figures?: { label: string; node: F; nginx: F }[] };
    if (!data.figures) return `Upstream: ${data.choice}.`;
    const lines = ['| case (direct, no proxy) | node:http req/s | nginx req/s | node:http CPU µs/req | nginx CPU µs/req | node p99 ms | nginx p99 ms |', '|---|---:|---:|---:|---:|---:|---:|'];
    for (const f of data.figures) lines.push(`| ${f.label} | ${f.node.rps} | ${f.nginx.rps} | ${num(f.node.cpuUsPerReq)} | ${num(f.nginx.cpuUsPerReq)} | ${f.node.p99} | ${f.nginx.p99} |`);
    return lines.join('\n');
  },
};
