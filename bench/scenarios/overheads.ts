// Overheads: Switchyard with metrics on vs off and access log on vs off (100 B, 50 connections),
// variants alternated in the same run. The access log goes to a file (--access-log-path) so the
// cost measured is the controller's, not a pipe's.
import { join } from 'node:path';
import type { Scenario } from './scenario.ts';
import { result, x } from './scenario.ts';
import { startUpstream } from '../lib/upstreams.ts';
import { benchManifests, BENCH_HOST } from '../lib/contenders.ts';
import { startSwitchyard, switchyardUnavailable, configKnowsFlag, type Switchyard } from '../lib/switchyard.ts';
import { SERVER_CORE } from '../lib/load.ts';
import { compare, pairedRatio } from '../lib/compare.ts';
import { num } from '../lib/report.ts';

export const overheadsScenario: Scenario = {
  name: 'overheads',
  title: 'Overheads: metrics on/off, access log on/off',
  async run(ctx, shared) {
    const unavailable = switchyardUnavailable();
    const missing = ['enable-metrics', 'access-log', 'access-log-path'].filter((f) => !configKnowsFlag(f));
    if (unavailable || missing.length) {
      return result(ctx, 'overheads', { status: 'not available yet', note: unavailable ?? `flags not in src/config.ts yet: ${missing.map((f) => `--${f}`).join(', ')}` });
    }
    const logFile = join(ctx.tmp, 'access.log');
    const variants: Record<string, string[]> = {
      'metrics off, log off': ['--enable-metrics=false', '--access-log=false'],
      'metrics on, log off': ['--enable-metrics=true', '--access-log=false'],
      'metrics off, log on': ['--enable-metrics=false', '--access-log=true', '--access-log-path', logFile],
      'metrics on, log on': ['--enable-metrics=true', '--access-log=true', '--access-log-path', logFile],
    };
    const upstream = await startUpstream(shared.upstreamKind, 'bench-up', ctx.tmp, ctx.nginx);
    const running: { label: string; sy: Switchyard }[] = [];
    try {
      for (const [label, args] of Object.entries(variants)) {
        const manifests = benchManifests(ctx, upstream.port);
        const sy = await startSwitchyard({ manifests: manifests.dir, core: SERVER_CORE, extraArgs: args, probe: { host: BENCH_HOST, path: '/b100', upstream: upstream.name } });
        running.push({ label, sy });
      }
      const [figures] = await compare(
        running.map((r) => ({ label: r.label, port: r.sy.port, host: BENCH_HOST, pids: [r.sy.proc.pid] })),
        [{ size: 100, connections: 50 }],
        { rounds: ctx.rounds, durationSec: ctx.durationSec, warmupSec: ctx.quick ? 1 : 3, log: ctx.log },
      );
      const base = 'metrics off, log off';
      const ratios = {
        metrics: pairedRatio(figures, 'metrics on, log off', base),
        accessLog: pairedRatio(figures, 'metrics off, log on', base),
        both: pairedRatio(figures, 'metrics on, log on', base),
        cpuMetrics: pairedRatio(figures, 'metrics on, log off', base, 'cpuUsPerReq'),
        cpuAccessLog: pairedRatio(figures, 'metrics off, log on', base, 'cpuUsPerReq'),
        cpuBoth: pairedRatio(figures, 'metrics on, log on', base, 'cpuUsPerReq'),
      };
      ctx.log(`  req/s vs metrics off+log off: metrics ${x(ratios.metrics)}, access log ${x(ratios.accessLog)}, both ${x(ratios.both)}`);
      return result(ctx, 'overheads', {
        status: 'ok',
        settings: { rounds: ctx.rounds, durationSec: ctx.durationSec, connections: 50, size: 100, upstream: shared.upstreamKind, accessLog: 'file (--access-log-path)' },
        data: {
          variants: Object.fromEntries(Object.entries(figures.contenders).map(([k, v]) => [k, { rps: v.rps, p50: v.p50, p99: v.p99, errors: v.errors, cpuUsPerReq: v.cpuUsPerReq, args: variants[k] }])),
          ratios,
        },
      });
    } finally {
      for (const r of running) await r.sy.stop();
      await upstream.stop();
    }
  },
  markdown(r) {
    const d = r.data as { variants: Record<string, { rps: number; p50: number; p99: number; errors: number; cpuUsPerReq?: number }>; ratios: Record<string, number> };
    const lines = ['100 B, 50 connections; access log written to a file.', '', '| Switchyard variant | req/s | p50 ms | p99 ms | failed | CPU µs/req |', '|---|---:|---:|---:|---:|---:|'];
    for (const [k, v] of Object.entries(d.variants)) lines.push(`| ${k} | ${v.rps} | ${num(v.p50)} | ${num(v.p99)} | ${v.errors} | ${num(v.cpuUsPerReq)} |`);
    lines.push(
      '',
      `Relative to metrics off + log off: req/s with metrics ${x(d.ratios.metrics)}, access log ${x(d.ratios.accessLog)}, both ${x(d.ratios.both)}; CPU per request with metrics ${x(d.ratios.cpuMetrics ?? NaN)}, access log ${x(d.ratios.cpuAccessLog ?? NaN)}, both ${x(d.ratios.cpuBoth ?? NaN)}.`,
    );
    return lines.join('\n');
  },
};
