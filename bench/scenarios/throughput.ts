// Throughput and latency: Switchyard vs direct (the ceiling) vs nginx (reverse proxy, upstream
// keep-alive, 1 worker) vs node http-proxy; 100 B and 16 KiB bodies at 50 and 200 connections.
import type { Scenario } from './scenario.ts';
import { result, check, x } from './scenario.ts';
import { startUpstream } from '../lib/upstreams.ts';
import { CONTENDERS, startContender, type Contender } from '../lib/contenders.ts';
import { compare, pairedRatio, type Case } from '../lib/compare.ts';
import { switchyardMode } from '../lib/switchyard.ts';
import { num } from '../lib/report.ts';

interface StoredCase {
  readonly label: string;
  readonly contenders: Record<string, { rps: number; p50: number; p99: number; errors: number; cpuUsPerReq?: number; cpuUserUsPerReq?: number }>;
  readonly ratios: Record<string, number>;
}

export const throughputScenario: Scenario = {
  name: 'throughput',
  title: 'Throughput and latency',
  async run(ctx, shared) {
    const upstream = await startUpstream(shared.upstreamKind, 'bench-up', ctx.tmp, ctx.nginx);
    const running: Contender[] = [];
    const unavailable: Record<string, string> = {};
    try {
      for (const name of CONTENDERS) {
        try {
          running.push(await startContender(name, ctx, upstream));
        } catch (err) {
          unavailable[name] = (err as Error).message.split('\n')[0];
          ctx.log(`throughput: ${name} not available: ${(err as Error).message}`);
        }
      }
      const cases: Case[] = [];
      for (const size of [100, 16384]) for (const connections of [50, 200]) cases.push({ size, connections });
      const figures = await compare(
        running.map((c) => ({ label: c.name, port: c.port, host: c.host, pids: c.pids })),
        cases,
        { rounds: ctx.rounds, durationSec: ctx.durationSec, warmupSec: ctx.quick ? 1 : 3, log: ctx.log },
      );
      const perCase = figures.map((f) => ({
        label: f.label,
        case: f.case,
        contenders: Object.fromEntries(Object.entries(f.contenders).map(([k, v]) => [k, { rps: v.rps, p50: v.p50, p99: v.p99, errors: v.errors, cpuUsPerReq: v.cpuUsPerReq, cpuUserUsPerReq: v.cpuUserUsPerReq, roundsRps: v.rounds.map((s) => Math.round(s.rps)), roundsCpuUsPerReq: v.rounds.map((s) => s.cpuUsPerReq) }])),
        ratios: {
          'switchyard/nginx': pairedRatio(f, 'switchyard', 'nginx'),
          'switchyard/direct': pairedRatio(f, 'switchyard', 'direct'),
          'switchyard/http-proxy': pairedRatio(f, 'switchyard', 'http-proxy'),
          'nginx/direct': pairedRatio(f, 'nginx', 'direct'),
          'p99 switchyard/nginx': pairedRatio(f, 'switchyard', 'nginx', 'p99'),
          // CPU per request, inverted so that, like req/s, higher is better for Switchyard.
          'cpu efficiency switchyard/nginx': pairedRatio(f, 'nginx', 'switchyard', 'cpuUsPerReq'),
          'cpu efficiency switchyard/http-proxy': pairedRatio(f, 'http-proxy', 'switchyard', 'cpuUsPerReq'),
        },
      }));
      const main = perCase.find((c) => c.case.size === 100 && c.case.connections === 50);
      const r = main?.ratios ?? { 'switchyard/nginx': NaN, 'switchyard/http-proxy': NaN, 'p99 switchyard/nginx': NaN, 'cpu efficiency switchyard/nginx': NaN, 'cpu efficiency switchyard/http-proxy': NaN };
      const failed = Object.values(perCase).reduce((n, c) => n + (c.contenders.switchyard?.errors ?? 0), 0);
      const targets = [
        check('throughput vs nginx (100 B, 50 conns)', '>= 0.6x nginx req/s', r['switchyard/nginx'], (v) => v >= 0.6),
        check('throughput vs http-proxy (100 B, 50 conns)', '>= 2.5x http-proxy req/s', r['switchyard/http-proxy'], (v) => v >= 2.5),
        check('p99 vs nginx (100 B, 50 conns)', '<= 2x nginx p99', r['p99 switchyard/nginx'], (v) => v <= 2),
        check('cross-check: CPU per request vs nginx (100 B, 50 conns)', '>= 0.6x nginx efficiency', r['cpu efficiency switchyard/nginx'], (v) => v >= 0.6),
        check('cross-check: CPU per request vs http-proxy (100 B, 50 conns)', '>= 2.5x http-proxy efficiency', r['cpu efficiency switchyard/http-proxy'], (v) => v >= 2.5),
        check('failed requests (all cases)', '0', running.some((c) => c.name === 'switchyard') ? failed : NaN, (v) => v === 0, String),
      ];
      return result(ctx, 'throughput', {
        status: Object.keys(unavailable).length === 0 ? 'ok' : 'partial',
        note: [
          Object.keys(unavailable).length ? `not available: ${Object.entries(unavailable).map(([k, v]) => `${k} (${v})`).join(', ')}` : '',
          switchyardMode() === 'embedded' ? 'Switchyard = embedded data plane (src/main.ts not there yet): translate + compile + createProxyServer, no metrics' : '',
        ].filter(Boolean).join('; ') || undefined,
        settings: { rounds: ctx.rounds, durationSec: ctx.durationSec, upstream: shared.upstreamKind, switchyard: switchyardMode(), order: running.map((c) => c.name) },
        data: { cases: perCase, unavailable, headline: main ? `Switchyard ${x(r['switchyard/nginx'])} nginx, ${x(r['switchyard/http-proxy'])} http-proxy` : null },
        targets,
      });
    } finally {
      for (const c of running) await c.stop();
      await upstream.stop();
    }
  },
  markdown(r) {
    const data = r.data as { cases: StoredCase[] };
    const names = ['direct', 'nginx', 'http-proxy', 'switchyard'];
    const lines = [
      `Medians of ${String(r.settings.rounds)} rounds x ${String(r.settings.durationSec)} s per contender and case, contenders alternated; upstream: ${String(r.settings.upstream)}.`,
      '',
      '![req/s and p99 per contender](bench/results/chart.svg)',
      '',
      '| case | contender | req/s | p50 ms | p99 ms | failed | proxy CPU µs/req (user + sys) |',
      '|---|---|---:|---:|---:|---:|---:|',
    ];
    for (const c of data.cases) {
      for (const n of names) {
        const f = c.contenders[n];
        if (f) lines.push(`| ${c.label} | ${n} | ${f.rps} | ${num(f.p50)} | ${num(f.p99)} | ${f.errors} | ${n === 'direct' ? '-' : `${num(f.cpuUsPerReq)} (${num(f.cpuUserUsPerReq)} + ${num((f.cpuUsPerReq ?? NaN) - (f.cpuUserUsPerReq ?? NaN))})`} |`);
      }
    }
    lines.push(
      '',
      'Ratios (medians of per-round ratios). req/s ratios are what the targets use; "CPU efficiency" is the inverse ratio of proxy CPU time per request (from /proc), which a noisy neighbour disturbs far less.',
      '',
      '| case | req/s Switchyard/nginx | Switchyard/direct | Switchyard/http-proxy | nginx/direct | p99 Switchyard/nginx | CPU efficiency Switchyard vs nginx | vs http-proxy |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const c of data.cases) {
      const q = c.ratios;
      lines.push(`| ${c.label} | ${x(q['switchyard/nginx'])} | ${x(q['switchyard/direct'])} | ${x(q['switchyard/http-proxy'])} | ${x(q['nginx/direct'])} | ${x(q['p99 switchyard/nginx'])} | ${x(q['cpu efficiency switchyard/nginx'] ?? NaN)} | ${x(q['cpu efficiency switchyard/http-proxy'] ?? NaN)} |`);
    }
    return lines.join('\n');
  },
};
