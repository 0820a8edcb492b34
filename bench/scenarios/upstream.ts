// Which fast local upstream to use: node:http vs nginx `return 200`, measured direct (no proxy)
// on the server core. The faster one is used by every other scenario, so the upstream is not
// what limits the proxies.
import type { Scenario } from './scenario.ts';
import { result } from './scenario.ts';
import { startUpstream, type Upstream, type UpstreamKind } from '../lib/upstreams.ts';
import { compare } from '../lib/compare.ts';
import { BENCH_HOST } from '../lib/contenders.ts';

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
        started.map((u) => ({ label: u.kind, port: u.port, host: BENCH_HOST })),
        cases,
        { rounds: ctx.rounds, durationSec: Math.min(ctx.durationSec, 5), warmupSec: ctx.quick ? 1 : 2, log: ctx.log },
      );
      const score = (kind: UpstreamKind): number => figures.reduce((sum, f) => sum + (f.contenders[kind]?.rps ?? 0) / Math.max(1, f.contenders.node?.rps ?? 1), 0);
      const choice: UpstreamKind = score('nginx') > score('node') ? 'nginx' : 'node';
      shared.upstreamKind = choice;
      const summary = figures.map((f) => `${f.label}: node ${f.contenders.node.rps} req/s, nginx ${f.contenders.nginx.rps} req/s`).join('; ');
      ctx.log(`upstream: using ${choice} (${summary})`);
      return result(ctx, 'upstream', {
        status: 'ok',
        note: `the ${choice} upstream is faster and is used by every scenario (${summary})`,
        settings: { rounds: ctx.rounds, durationSec: Math.min(ctx.durationSec, 5) },
        data: { choice, figures: figures.map((f) => ({ label: f.label, node: f.contenders.node, nginx: f.contenders.nginx })) },
      });
    } finally {
      for (const u of started) await u.stop();
    }
  },
  markdown(r) {
    const data = r.data as { choice: string; figures?: { label: string; node: { rps: number; p99: number }; nginx: { rps: number; p99: number } }[] };
    if (!data.figures) return `Upstream: ${data.choice}.`;
    const lines = ['| case (direct, no proxy) | node:http req/s | nginx return 200 req/s | node p99 ms | nginx p99 ms |', '|---|---:|---:|---:|---:|'];
    for (const f of data.figures) lines.push(`| ${f.label} | ${f.node.rps} | ${f.nginx.rps} | ${f.node.p99} | ${f.nginx.p99} |`);
    return lines.join('\n');
  },
};
