// --workers (README "All cores: `--workers`"): (a) throughput with 1 and 2 workers (and the CPU
// count when it is larger), same upstream and load as the throughput scenario, under two pinnings:
// the proxy on core 1 only (as every other scenario: what the cluster costs on a fixed CPU) and
// on cores 0-1 (a second core to scale onto, shared with the load generator on core 0 and the
// upstream on core 1, so on a 2-core machine this is a lower bound of real scaling); (b) how long
// a change takes to reach every worker at 1,000 and 10,000 Ingresses, from the primary's
// "route table reached every worker" log line (publish -> last ack) and end to end from a client;
// (c) in-process, the send cost per change as it was (whole RouteConfig, serialized per worker)
// and as it is (a delta serialized once), side by side (bench/servers/worker-send-cost.ts).
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Scenario } from './scenario.ts';
import type { BenchContext } from '../lib/context.ts';
import { result, x } from './scenario.ts';
import { startUpstream, type Upstream } from '../lib/upstreams.ts';
import { BENCH_HOST, SHIPPED_ARGS, benchManifests } from '../lib/contenders.ts';
import { compare, pairedRatio, type Case } from '../lib/compare.ts';
import { LOAD_CORE, SERVER_CORE } from '../lib/load.ts';
import { ManifestDir, ingressClassYaml, writeBulk, writeProbe, switchProbe, PROBE_HOST } from '../lib/manifests.ts';
import { startSwitchyard, switchyardUnavailable, configKnowsFlag, type Switchyard } from '../lib/switchyard.ts';
import { get, waitUntil } from '../lib/net.ts';
import { delay, start } from '../lib/procs.ts';
import { median, percentile, round } from '../lib/stats.ts';
import { num } from '../lib/report.ts';
import { canPin } from '../lib/procs.ts';

const sendCostScript = fileURLToPath(new URL('../servers/worker-send-cost.ts', import.meta.url));
/** Both cores of a 2-core machine (the load generator stays on LOAD_CORE). */
const ALL_CORES = `${LOAD_CORE},${SERVER_CORE}`;

interface Stats {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly n: number;
}

function stats(values: readonly number[]): Stats {
  const seen = values.filter(Number.isFinite);
  return { p50: round(median(seen), 1), p99: round(percentile(seen, 99), 1), max: round(seen.length ? Math.max(...seen) : NaN, 1), n: seen.length };
}

/** Polls with new connections (spread over the workers by the cluster) until `streak` in a row answer from `upstream`. */
async function everyWorkerServes(port: number, host: string, path: string, streak: number, upstream?: string, timeoutMs = 10_000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let inRow = 0;
  while (performance.now() < deadline) {
    try {
      const res = await get(port, path, host, 2000, false);
      inRow = res.status === 200 && (upstream === undefined || res.headers['x-upstream'] === upstream) ? inRow + 1 : 0;
    } catch {
      inRow = 0;
    }
    if (inRow >= streak) return true;
    if (inRow === 0) await delay(1);
  }
  return false;
}

interface ThroughputRow {
  readonly pinning: string;
  readonly workers: number;
  readonly case: string;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly cpuUsPerReq: number;
  /** Paired req/s ratio against 1 worker under the same pinning. */
  readonly vsOneWorker: number;
}

async function measureThroughput(ctx: BenchContext, upstream: Upstream, counts: readonly number[]): Promise<ThroughputRow[]> {
  const pinnings = canPin() ? [{ label: `core ${SERVER_CORE}`, core: String(SERVER_CORE) }, { label: `cores ${ALL_CORES}`, core: ALL_CORES }] : [{ label: 'not pinned', core: null }];
  const running: { label: string; pinning: string; workers: number; sy: Switchyard }[] = [];
  try {
    for (const p of pinnings) {
      for (const workers of counts) {
        const sy = await startSwitchyard({
          manifests: benchManifests(ctx, upstream.port).dir,
          core: p.core,
          extraArgs: [...SHIPPED_ARGS(), '--workers', String(workers)],
          probe: { host: BENCH_HOST, path: '/b100', upstream: upstream.name },
        });
        running.push({ label: `${workers}w ${p.label}`, pinning: p.label, workers, sy });
        if (!(await everyWorkerServes(sy.port, BENCH_HOST, '/b100', 4 * workers, upstream.name))) throw new Error(`--workers ${workers}: not every worker serves the route`);
      }
    }
    const cases: Case[] = [{ size: 100, connections: 50 }, { size: 100, connections: 200 }];
    const figures = await compare(
      running.map((r) => ({ label: r.label, port: r.sy.port, host: BENCH_HOST, pids: [r.sy.proc.pid] })), // the primary's tree: its workers too
      cases,
      { rounds: ctx.rounds, durationSec: ctx.durationSec, warmupSec: ctx.quick ? 1 : 3, log: ctx.log },
    );
    return figures.flatMap((f) =>
      running.map((r) => {
        const c = f.contenders[r.label]!;
        const base = running.find((q) => q.pinning === r.pinning && q.workers === 1)!;
        return { pinning: r.pinning, workers: r.workers, case: f.label, rps: c.rps, p50: c.p50, p99: c.p99, errors: c.errors, cpuUsPerReq: c.cpuUsPerReq, vsOneWorker: pairedRatio(f, r.label, base.label) };
      }),
    );
  } finally {
    for (const r of running) await r.sy.stop();
  }
}

interface LoggedLine {
  readonly msg?: string;
  readonly generation?: number;
  readonly durationMs?: number;
  readonly reason?: string;
}

interface PropagationSize {
  readonly ingresses: number;
  readonly workers: number;
  readonly changes: number;
  /** Primary: translate + compile ("route table published" durationMs). */
  readonly primaryBuildMs: Stats;
  /** Primary publish -> last worker's ack ("route table reached every worker" durationMs). */
  readonly publishToEveryWorkerMs: Stats;
  /** Manifest write -> `2 x workers` new connections in a row answered by the new backend. */
  readonly changeToEveryWorkerMs: Stats;
  /** Generations that did not reach every worker, and resyncs (full snapshots asked for). */
  readonly notReached: number;
  readonly resyncs: number;
  readonly readyMs: number;
  /** In-process send cost per change: before (full, per worker) and now (delta, once). */
  readonly sendCost: { readonly full: SendCost; readonly delta: SendCost } | { readonly error: string };
}

interface SendCost {
  readonly primaryMs: number;
  readonly workerMs: number;
  readonly compileMs: number;
  readonly bytes: number;
}

async function measureSendCost(ctx: BenchContext, dir: string, workers: number): Promise<PropagationSize['sendCost']> {
  const proc = start('worker-send-cost', process.execPath, [sendCostScript, dir, String(ctx.quick ? 5 : 15), String(workers)], { core: SERVER_CORE, cwd: process.cwd() });
  try {
    const line = await proc.waitForLine(/^\{.*\}$/, 600_000);
    type Sample = { primaryMs: number; workerMs: number; compileMs: number; bytes: number };
    const parsed = JSON.parse(line[0]) as { full: Sample[]; delta: Sample[] };
    const med = (list: Sample[]): SendCost => ({
      primaryMs: round(median(list.map((s) => s.primaryMs)), 1),
      workerMs: round(median(list.map((s) => s.workerMs)), 1),
      compileMs: round(median(list.map((s) => s.compileMs)), 1),
      bytes: median(list.map((s) => s.bytes)),
    });
    return { full: med(parsed.full), delta: med(parsed.delta) };
  } catch (err) {
    return { error: (err as Error).message.split('\n')[0]! };
  } finally {
    await proc.stop();
  }
}

async function measurePropagation(ctx: BenchContext, ups: readonly Upstream[], ingresses: number, workers: number, changes: number): Promise<PropagationSize> {
  const dir = new ManifestDir(mkdtempSync(join(ctx.tmp, `workers-${ingresses}-`)));
  dir.write('class.yaml', ingressClassYaml());
  writeBulk(dir, ingresses - 1);
  writeProbe(dir, ups[0]!.port, ups[1]!.port);
  ctx.log(`  ${ingresses} Ingresses, --workers ${workers}`);
  const sendCost = await measureSendCost(ctx, dir.dir, workers);
  if ('full' in sendCost) ctx.log(`    in-process send per change: full ${sendCost.full.primaryMs} ms primary + ${sendCost.full.workerMs} ms worker (${sendCost.full.bytes} B); delta ${sendCost.delta.primaryMs} + ${sendCost.delta.workerMs} ms (${sendCost.delta.bytes} B)`);

  const lines: LoggedLine[] = [];
  const sy = await startSwitchyard({
    manifests: dir.dir,
    core: canPin() ? ALL_CORES : null,
    logLevel: 'info',
    extraArgs: [...SHIPPED_ARGS(), '--workers', String(workers)],
    probe: { host: PROBE_HOST, path: '/b100', upstream: 'prop-a' },
    readyTimeoutMs: 600_000,
  });
  try {
    sy.proc.onLine((text) => {
      if (!text.startsWith('{')) return;
      try {
        lines.push(JSON.parse(text) as LoggedLine);
      } catch {
        // not a log line
      }
    });
    if (!(await everyWorkerServes(sy.port, PROBE_HOST, '/b100', 4 * workers, 'prop-a', 300_000))) throw new Error('not every worker serves the probe');
    ctx.log(`    ready after ${round(sy.readyMs / 1000, 1)} s; ${changes} changes`);
    const builds: number[] = [];
    const reached: number[] = [];
    const endToEnd: number[] = [];
    let backend: 'prop-a' | 'prop-b' = 'prop-a';
    let lastGeneration = Math.max(0, ...lines.filter((l) => l.msg?.includes('route table published')).map((l) => l.generation ?? 0));
    for (let i = 0; i < changes; i++) {
      backend = backend === 'prop-a' ? 'prop-b' : 'prop-a';
      const since = performance.now();
      switchProbe(dir, backend);
      const served = await everyWorkerServes(sy.port, PROBE_HOST, '/b100', 2 * workers, backend);
      endToEnd.push(served ? performance.now() - since : NaN);
      // The generation this change produced, and its acks (each change measured alone).
      let published: LoggedLine | undefined;
      await waitUntil('the change published', async () => (published = lines.find((l) => l.msg === 'route table published' && (l.generation ?? 0) > lastGeneration)) !== undefined, 30_000, 5).catch(() => {});
      if (published?.generation !== undefined) {
        lastGeneration = published.generation;
        builds.push(published.durationMs ?? NaN);
        let acked: LoggedLine | undefined;
        await waitUntil('the change reached every worker', async () => (acked = lines.find((l) => l.generation === published!.generation && (l.msg === 'route table reached every worker' || l.msg === 'route table did not reach every worker'))) !== undefined, 35_000, 5).catch(() => {});
        reached.push(acked?.msg === 'route table reached every worker' ? (acked.durationMs ?? NaN) : NaN);
      }
      await delay(50 + Math.random() * 50); // independent changes: each one coalesced alone
    }
    const result: PropagationSize = {
      ingresses,
      workers,
      changes,
      primaryBuildMs: stats(builds),
      publishToEveryWorkerMs: stats(reached),
      changeToEveryWorkerMs: stats(endToEnd),
      notReached: lines.filter((l) => l.msg === 'route table did not reach every worker').length,
      resyncs: lines.filter((l) => l.reason === 'DeltaNotApplicable').length,
      readyMs: round(sy.readyMs, 0),
      sendCost,
    };
    ctx.log(`    publish -> every worker p50 ${result.publishToEveryWorkerMs.p50} ms, p99 ${result.publishToEveryWorkerMs.p99} ms (${result.publishToEveryWorkerMs.n}/${changes}); change -> every worker end to end p50 ${result.changeToEveryWorkerMs.p50} ms, p99 ${result.changeToEveryWorkerMs.p99} ms; primary build p50 ${result.primaryBuildMs.p50} ms`);
    return result;
  } finally {
    await sy.stop();
  }
}

export const workersScenario: Scenario = {
  name: 'workers',
  title: '--workers: throughput from 1 to N workers, change to every worker',
  async run(ctx, shared) {
    const unavailable = switchyardUnavailable() ?? (configKnowsFlag('workers') ? null : 'src/config.ts has no --workers flag');
    if (unavailable) return result(ctx, 'workers', { status: 'not available yet', note: unavailable });
    const counts = [...new Set([1, 2, ctx.machine.cpus])].sort((a, b) => a - b);
    const changes = ctx.quick ? 10 : 50;
    const ups: Upstream[] = [];
    let throughput: ThroughputRow[] = [];
    const propagation: PropagationSize[] = [];
    try {
      ups.push(await startUpstream(shared.upstreamKind, 'bench-up', ctx.tmp, ctx.nginx));
      throughput = await measureThroughput(ctx, ups[0]!, counts);
      await ups.pop()!.stop();
      ups.push(await startUpstream(shared.upstreamKind, 'prop-a', ctx.tmp, ctx.nginx));
      ups.push(await startUpstream(shared.upstreamKind, 'prop-b', ctx.tmp, ctx.nginx));
      for (const ingresses of [1000, 10_000]) propagation.push(await measurePropagation(ctx, ups, ingresses, Math.max(2, ctx.machine.cpus), changes));
    } finally {
      for (const u of ups) await u.stop();
    }
    return result(ctx, 'workers', {
      status: 'ok',
      settings: {
        rounds: ctx.rounds,
        durationSec: ctx.durationSec,
        upstream: shared.upstreamKind,
        workers: counts,
        changes,
        pinning: canPin()
          ? `load generator on core ${LOAD_CORE}, upstream on core ${SERVER_CORE}; Switchyard (primary + workers) on core ${SERVER_CORE} or on cores ${ALL_CORES}; propagation runs on cores ${ALL_CORES}`
          : 'not pinned',
      },
      data: { throughput, propagation },
    });
  },
  markdown(r) {
    const { throughput, propagation } = r.data as { throughput: ThroughputRow[]; propagation: PropagationSize[] };
    const lines = [
      `Throughput: medians of ${String(r.settings.rounds)} rounds x ${String(r.settings.durationSec)} s, configurations alternated; upstream: ${String(r.settings.upstream)}; ${String(r.settings.pinning)}.`,
      'On this 2-core machine the load generator needs a core of its own: "cores 0,1" gives the workers a second core that they share with the load generator and the upstream, so its ratio is a lower bound of what a second dedicated core gives; "core 1" shows what the cluster costs on one core. CPU µs/req = primary + workers.',
      '',
      '| pinning | workers | case | req/s | vs 1 worker (paired) | p50 ms | p99 ms | failed | CPU µs/req |',
      '|---|---:|---|---:|---:|---:|---:|---:|---:|',
      ...throughput.map((t) => `| ${t.pinning} | ${t.workers} | ${t.case} | ${t.rps} | ${x(t.vsOneWorker)} | ${num(t.p50)} | ${num(t.p99)} | ${t.errors} | ${num(t.cpuUsPerReq)} |`),
      '',
      `Change to every worker: ${String(r.settings.changes)} changes, one at a time (the probe route's backend switched by an atomic file rename, default holdoff 20 ms). "publish -> every worker" is the primary's own figure (its "route table reached every worker" log line, also \`switchyard_worker_table_propagation_seconds\`); "end to end" runs from the write until 2 x workers new connections in a row are answered by the new backend.`,
      '',
      '| Ingresses | workers | measure | p50 ms | p99 ms | max ms | seen |',
      '|---:|---:|---|---:|---:|---:|---:|',
    ];
    for (const p of propagation) {
      const row = (what: string, s: Stats): string => `| ${p.ingresses} | ${p.workers} | ${what} | ${num(s.p50)} | ${num(s.p99)} | ${num(s.max)} | ${s.n}/${p.changes} |`;
      lines.push(row('primary build (translate + compile)', p.primaryBuildMs), row('publish -> every worker swapped (primary log)', p.publishToEveryWorkerMs), row('change -> every worker serves it (end to end)', p.changeToEveryWorkerMs));
    }
    lines.push(
      '',
      'Send cost per change, in-process (bench/servers/worker-send-cost.ts, medians): "full" = the whole RouteConfig serialized per worker, parsed and compiled from scratch by the worker (how tables were sent before); "delta" = a delta serialized once, patched into the worker\'s config, compiled with reuse (how they are sent now).',
      '',
      '| Ingresses | workers | full: primary ms | full: worker parse + compile ms | full: bytes | delta: primary ms | delta: worker ms | delta: bytes |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const p of propagation) {
      if ('full' in p.sendCost) lines.push(`| ${p.ingresses} | ${p.workers} | ${num(p.sendCost.full.primaryMs)} | ${num(p.sendCost.full.workerMs)} | ${p.sendCost.full.bytes} | ${num(p.sendCost.delta.primaryMs)} | ${num(p.sendCost.delta.workerMs)} | ${p.sendCost.delta.bytes} |`);
      else lines.push(`| ${p.ingresses} | ${p.workers} | not measured: ${p.sendCost.error} | | | | | |`);
    }
    return lines.join('\n');
  },
};
