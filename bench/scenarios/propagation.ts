// Propagation at scale: 10,000 Ingresses / 50,000 endpoints in the manifests folder; the time from
// a manifest change (the probe route's backend switched) to the first request served by the new
// backend, p50/p99 over 100 changes; plus the rebuild cost per change, from the controller's own
// "route table published" log lines and measured in-process stage by stage.
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Scenario } from './scenario.ts';
import type { BenchContext } from '../lib/context.ts';
import { result, check } from './scenario.ts';
import { startUpstream, type Upstream } from '../lib/upstreams.ts';
import { LOAD_CORE, SERVER_CORE } from '../lib/load.ts';
import { ManifestDir, ingressClassYaml, writeBulk, writeProbe, switchProbe, PROBE_HOST } from '../lib/manifests.ts';
import { startSwitchyard, switchyardUnavailable, type Switchyard } from '../lib/switchyard.ts';
import { get } from '../lib/net.ts';
import { delay, start } from '../lib/procs.ts';
import { median, percentile, round } from '../lib/stats.ts';
import { num } from '../lib/report.ts';

const rebuildScript = fileURLToPath(new URL('../servers/rebuild-cost.ts', import.meta.url));
const kubeApiScript = fileURLToPath(new URL('../servers/kube-api.ts', import.meta.url));

interface StageStats {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

function stats(values: readonly number[]): StageStats {
  return { p50: round(median(values), 1), p99: round(percentile(values, 99), 1), max: round(Math.max(...values), 1) };
}

/** Polls PROBE_HOST until it answers from `expected`: ms since `since`, or NaN after 10 s. */
async function firstServedBy(port: number, expected: string, since: number): Promise<number> {
  while (performance.now() - since < 10_000) {
    try {
      const res = await get(port, '/b100', PROBE_HOST, 2000);
      if (res.headers['x-upstream'] === expected) return performance.now() - since;
    } catch {
      // keep polling
    }
    await delay(1);
  }
  return Number.NaN;
}

interface SizeResult {
  readonly ingresses: number;
  readonly endpoints: number;
  readonly propagationMs: StageStats & { readonly observed: number; readonly changes: number };
  readonly controllerBuildMs: StageStats | null;
  readonly inProcessRebuildMs: Record<string, StageStats>;
  readonly firstBuildMs: number;
  readonly readyMs: number;
  /** The same changes made through the Kubernetes API (test API server, --source kubernetes). */
  readonly kube?: { readonly propagationMs: StageStats & { readonly observed: number; readonly changes: number }; readonly readyMs: number } | { readonly error: string };
}

/** Switches the probe through `change` `changes` times; ms from each change to the first request on the new backend. */
async function switchAndObserve(port: number, changes: number, change: (backend: 'prop-a' | 'prop-b') => void): Promise<StageStats & { observed: number; changes: number }> {
  const times: number[] = [];
  let backend: 'prop-a' | 'prop-b' = 'prop-a';
  for (let i = 0; i < changes; i++) {
    backend = backend === 'prop-a' ? 'prop-b' : 'prop-a';
    const since = performance.now();
    change(backend);
    times.push(await firstServedBy(port, backend, since));
    await delay(50 + Math.random() * 50); // independent changes: each one coalesced alone
  }
  const seen = times.filter((t) => Number.isFinite(t));
  return { ...stats(seen), observed: seen.length, changes };
}

/** The kube source: the in-repo test API server (core 0, like a remote API server) holding the same objects. */
async function measureKube(ctx: BenchContext, manifests: string, changes: number): Promise<NonNullable<SizeResult['kube']>> {
  const kubeconfig = join(ctx.tmp, `kubeconfig-${Date.now()}.json`);
  const api = start('kube-api', process.execPath, [kubeApiScript, manifests, kubeconfig], { core: LOAD_CORE, stdin: true, cwd: process.cwd() });
  let sy: Switchyard | null = null;
  try {
    await api.waitForLine(/^listening (\d+)/, 300_000);
    sy = await startSwitchyard({
      manifests,
      core: SERVER_CORE,
      extraArgs: ['--source', 'kubernetes', '--kubeconfig', kubeconfig, '--update-status=false'],
      probe: { host: PROBE_HOST, path: '/b100', upstream: 'prop-a' },
      readyTimeoutMs: 300_000,
    });
    ctx.log(`    kube source: controller ready after ${round(sy.readyMs / 1000, 1)} s`);
    const propagationMs = await switchAndObserve(sy.port, changes, (backend) => api.send(`switch ${backend}`));
    ctx.log(`    kube source: propagation p50 ${propagationMs.p50} ms, p99 ${propagationMs.p99} ms (${propagationMs.observed}/${changes} seen)`);
    return { propagationMs, readyMs: round(sy.readyMs, 0) };
  } catch (err) {
    ctx.log(`    kube source: not measured: ${(err as Error).message.split('\n')[0]}`);
    return { error: (err as Error).message.split('\n')[0] };
  } finally {
    if (sy) await sy.stop();
    await api.stop();
  }
}

/** Bulk + probe manifests, in-process stage costs, then the controller and `changes` switches. */
async function measureSize(ctx: BenchContext, ups: readonly Upstream[], bulk: number, changes: number): Promise<SizeResult> {
  const dir = new ManifestDir(mkdtempSync(join(ctx.tmp, `propagation-${bulk}-`)));
  dir.write('class.yaml', ingressClassYaml());
  const endpoints = writeBulk(dir, bulk) + 2;
  writeProbe(dir, ups[0].port, ups[1].port);
  const ingresses = bulk + 1;
  ctx.log(`  ${ingresses} Ingresses, ${endpoints} endpoints`);

  // In-process stage costs first (same manifests, same core, the controller not yet running).
  const cost = start('rebuild-cost', process.execPath, [rebuildScript, dir.dir, String(ctx.quick ? 10 : 30)], { core: SERVER_CORE, cwd: process.cwd() });
  const costLine = await cost.waitForLine(/^\{.*\}$/, 300_000).finally(() => cost.stop());
  type Sample = { snapshot: number; translate: number; compile: number; total: number };
  const inProcess = JSON.parse(costLine[0]) as { firstBuildMs: number; samples: Sample[]; endpointSamples?: Sample[] };
  const endpoint = inProcess.endpointSamples ?? [];
  const stages: Record<string, StageStats> = {
    snapshot: stats(inProcess.samples.map((s) => s.snapshot)),
    translate: stats(inProcess.samples.map((s) => s.translate)),
    compile: stats(inProcess.samples.map((s) => s.compile)),
    total: stats(inProcess.samples.map((s) => s.total)),
    ...(endpoint.length > 0
      ? {
          'EndpointSlice change: translate': stats(endpoint.map((s) => s.translate)),
          'EndpointSlice change: compile': stats(endpoint.map((s) => s.compile)),
          'EndpointSlice change: total': stats(endpoint.map((s) => s.total)),
        }
      : {}),
  };
  ctx.log(`    in-process rebuild per change: p50 ${stages.total.p50} ms (snapshot ${stages.snapshot.p50}, translate ${stages.translate.p50}, compile ${stages.compile.p50}); first build ${round(inProcess.firstBuildMs, 0)} ms`);
  const ep = stages['EndpointSlice change: total'];
  if (ep !== undefined) ctx.log(`    in-process rebuild per EndpointSlice change: p50 ${ep.p50} ms (translate ${stages['EndpointSlice change: translate'].p50}, compile ${stages['EndpointSlice change: compile'].p50})`);

  let sy: Switchyard | null = null;
  try {
    sy = await startSwitchyard({ manifests: dir.dir, core: SERVER_CORE, logLevel: 'info', probe: { host: PROBE_HOST, path: '/b100', upstream: 'prop-a' }, readyTimeoutMs: 300_000 });
    const logged: number[] = [];
    sy.proc.onLine((line) => {
      if (!line.includes('route table published')) return;
      try {
        const d = (JSON.parse(line) as { durationMs?: number }).durationMs;
        if (typeof d === 'number') logged.push(d);
      } catch {
        // not JSON: ignore
      }
    });
    const readyMs = round(sy.readyMs, 0);
    ctx.log(`    controller ready after ${round(sy.readyMs / 1000, 1)} s; ${changes} changes`);
    const propagationMs = await switchAndObserve(sy.port, changes, (backend) => switchProbe(dir, backend));
    const controllerBuildMs = logged.length > 1 ? stats(logged.slice(1)) : null;
    ctx.log(`    propagation p50 ${propagationMs.p50} ms, p99 ${propagationMs.p99} ms (${propagationMs.observed}/${changes} seen); controller build p50 ${controllerBuildMs?.p50 ?? 'n/a'} ms`);
    await sy.stop();
    sy = null;
    switchProbe(dir, 'prop-a'); // the API server loads the folder as it is now
    const kube = await measureKube(ctx, dir.dir, changes);
    return { ingresses, endpoints, propagationMs, controllerBuildMs, inProcessRebuildMs: stages, firstBuildMs: round(inProcess.firstBuildMs, 0), readyMs, kube };
  } finally {
    if (sy) await sy.stop();
  }
}

export const propagationScenario: Scenario = {
  name: 'propagation',
  title: 'Propagation with 10,000 Ingresses / 50,000 endpoints',
  async run(ctx, shared) {
    const big = ctx.quick ? 2000 : 10_000;
    const changes = ctx.quick ? 20 : 100;
    const unavailable = switchyardUnavailable();
    if (unavailable) return result(ctx, 'propagation', { status: 'not available yet', note: unavailable });
    const ups: Upstream[] = [];
    const sizes: SizeResult[] = [];
    try {
      ups.push(await startUpstream(shared.upstreamKind, 'prop-a', ctx.tmp, ctx.nginx));
      ups.push(await startUpstream(shared.upstreamKind, 'prop-b', ctx.tmp, ctx.nginx));
      // The 1-Ingress run separates the fixed latency (watch, holdoff) from the rebuild cost.
      for (const bulk of [0, big - 1]) sizes.push(await measureSize(ctx, ups, bulk, changes));
    } finally {
      for (const u of ups) await u.stop();
    }
    const last = sizes.at(-1)!;
    const full = last.ingresses >= 10_000;
    return result(ctx, 'propagation', {
      status: 'ok',
      note: full ? undefined : `quick run: ${last.ingresses} Ingresses, not 10,000`,
      settings: { changes, upstream: shared.upstreamKind, syncHoldoff: 'default (20ms)', syncMaxHoldoff: 'default (200ms)', syncLeadingEdge: 'default (true)', source: 'file (--manifests), atomic rename per change' },
      data: { sizes },
      targets: [
        check(`propagation p99 at ${last.ingresses} Ingresses (file source)`, '<= 100 ms at 10,000 Ingresses', full && last.propagationMs.observed === changes ? last.propagationMs.p99 : NaN, (v) => v <= 100, (v) => `${v} ms`),
        check(
          `propagation p99 at ${last.ingresses} Ingresses (kube source)`,
          '<= 100 ms at 10,000 Ingresses',
          full && last.kube && 'propagationMs' in last.kube && last.kube.propagationMs.observed === changes ? last.kube.propagationMs.p99 : NaN,
          (v) => v <= 100,
          (v) => `${v} ms`,
        ),
      ],
    });
  },
  markdown(r) {
    const { sizes } = r.data as { sizes: SizeResult[] };
    const lines = [
      'One manifest change at a time (the probe route\'s backend switched by an atomic file rename), defaults: holdoff 20 ms, leading edge on (a change after 20 ms of quiet builds at once); "seen" = first request answered by the new backend.',
      '',
      '| Ingresses / endpoints | measure | p50 ms | p99 ms | max ms |',
      '|---|---|---:|---:|---:|',
    ];
    for (const d of sizes) {
      const n = `${d.ingresses} / ${d.endpoints}`;
      lines.push(`| ${n} | file source: change -> first request on the new backend (${d.propagationMs.observed}/${d.propagationMs.changes} seen) | ${num(d.propagationMs.p50)} | ${num(d.propagationMs.p99)} | ${num(d.propagationMs.max)} |`);
      if (d.kube && 'propagationMs' in d.kube) {
        const k = d.kube.propagationMs;
        lines.push(`| ${n} | kube source (test API server): update -> first request on the new backend (${k.observed}/${k.changes} seen) | ${num(k.p50)} | ${num(k.p99)} | ${num(k.max)} |`);
      } else if (d.kube && 'error' in d.kube) {
        lines.push(`| ${n} | kube source: not measured (${d.kube.error}) | | | |`);
      }
      if (d.controllerBuildMs) lines.push(`| ${n} | controller build (its "route table published" durationMs) | ${num(d.controllerBuildMs.p50)} | ${num(d.controllerBuildMs.p99)} | ${num(d.controllerBuildMs.max)} |`);
      for (const [stage, v] of Object.entries(d.inProcessRebuildMs)) lines.push(`| ${n} | in-process rebuild: ${stage} | ${num(v.p50)} | ${num(v.p99)} | ${num(v.max)} |`);
    }
    return lines.join('\n');
  },
};
