// Scale: time to first ready, heap and RSS with 1,000 and 10,000 Ingresses (5 endpoints each).
// Memory comes from a preloaded probe (bench/lib/memory-probe.ts: process.memoryUsage() after a
// full GC) and /proc/<pid>/status (VmHWM = peak RSS).
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Scenario } from './scenario.ts';
import { result, check } from './scenario.ts';
import { startUpstream, type Upstream } from '../lib/upstreams.ts';
import { SERVER_CORE } from '../lib/load.ts';
import { ManifestDir, ingressClassYaml, writeBulk, writeProbe, PROBE_HOST } from '../lib/manifests.ts';
import { startSwitchyard, switchyardUnavailable, type Switchyard } from '../lib/switchyard.ts';
import { delay } from '../lib/procs.ts';
import { waitUntil } from '../lib/net.ts';
import { num } from '../lib/report.ts';
import { SHIPPED_NODE_FLAGS } from '../../src/node-flags.ts';

const probeModule = fileURLToPath(new URL('../lib/memory-probe.ts', import.meta.url));
const MiB = 1048576;

export interface ScalePoint {
  readonly ingresses: number;
  readonly endpoints: number;
  readonly readyMs: number;
  readonly heapUsedMiB: number;
  readonly heapTotalMiB: number;
  /** The young generation's resident size before the forced GC (v8.getHeapSpaceStatistics()). */
  readonly newSpaceMiB: number;
  readonly rssMiB: number;
  readonly rssBeforeGcMiB: number;
  readonly peakRssMiB: number;
  /** The --max-semi-space-size the controller ran with ('' = V8's default, sized from RAM). */
  readonly semiSpaceFlag: string;
}

function procStatusKiB(pid: number, field: string): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) : Number.NaN;
}

/**
 * Starts the controller (as shipped, plus the memory probe and `extraNodeArgs`) on `count` generated
 * Ingresses, waits until it serves, settles 3 s and samples memory after a full GC.
 */
export async function measureScalePoint(tmp: string, count: number, aPort: number, bPort: number, extraNodeArgs: readonly string[] = []): Promise<ScalePoint> {
  const root = mkdtempSync(join(tmp, `scale-${count}-`));
  const dir = new ManifestDir(root);
  dir.write('class.yaml', ingressClassYaml());
  const endpoints = writeBulk(dir, count);
  writeProbe(dir, aPort, bPort);
  const memoryFile = join(root, 'memory.json');
  let sy: Switchyard | null = null;
  try {
    sy = await startSwitchyard({
      manifests: dir.dir,
      core: SERVER_CORE,
      nodeArgs: ['--expose-gc', '--import', probeModule, ...extraNodeArgs],
      env: { ...process.env, BENCH_MEMORY_FILE: memoryFile },
      probe: { host: PROBE_HOST, path: '/b100', upstream: 'prop-a' },
      readyTimeoutMs: 300_000,
    });
    // Settle, then ask the probe for a sample after a full GC (SIGUSR2).
    await delay(3000);
    const since = Date.now();
    let m = { at: 0, rss: 0, rssBeforeGc: 0, heapUsed: 0, heapTotal: 0, newSpace: 0, semiSpaceFlag: '' };
    process.kill(sy.proc.pid, 'SIGUSR2');
    await waitUntil('memory sample', async () => {
      m = JSON.parse(readFileSync(memoryFile, 'utf8')) as typeof m;
      return m.at >= since;
    }, 10_000, 100);
    return {
      ingresses: count,
      endpoints,
      readyMs: Math.round(sy.readyMs),
      heapUsedMiB: Math.round(m.heapUsed / MiB),
      heapTotalMiB: Math.round(m.heapTotal / MiB),
      newSpaceMiB: Math.round(m.newSpace / MiB),
      rssMiB: Math.round(m.rss / MiB),
      rssBeforeGcMiB: Math.round(m.rssBeforeGc / MiB),
      peakRssMiB: Math.round(procStatusKiB(sy.proc.pid, 'VmHWM') / 1024),
      semiSpaceFlag: m.semiSpaceFlag,
    };
  } finally {
    if (sy) await sy.stop();
  }
}

export const scaleScenario: Scenario = {
  name: 'scale',
  title: 'Scale: time to first ready, heap and RSS',
  async run(ctx, shared) {
    const unavailable = switchyardUnavailable();
    if (unavailable) return result(ctx, 'scale', { status: 'not available yet', note: unavailable });
    const points: ScalePoint[] = [];
    const ups: Upstream[] = [];
    try {
      ups.push(await startUpstream(shared.upstreamKind, 'prop-a', ctx.tmp, ctx.nginx));
      ups.push(await startUpstream(shared.upstreamKind, 'prop-b', ctx.tmp, ctx.nginx));
      for (const count of ctx.quick ? [1000, 2000] : [1000, 10_000]) {
        const point = await measureScalePoint(ctx.tmp, count, ups[0].port, ups[1].port);
        points.push(point);
        ctx.log(`  ${count} Ingresses / ${point.endpoints} endpoints: ready in ${(point.readyMs / 1000).toFixed(1)} s, heap ${point.heapUsedMiB} MiB, RSS ${point.rssBeforeGcMiB} MiB (${point.rssMiB} MiB after GC, peak ${point.peakRssMiB} MiB)`);
      }
    } finally {
      for (const u of ups) await u.stop();
    }
    const big = points.find((p) => p.ingresses === 10_000);
    return result(ctx, 'scale', {
      status: 'ok',
      note: big ? undefined : 'quick run: 10,000 Ingresses not measured',
      settings: { endpointsPerService: 5, source: 'file (--manifests)', started: `node bin/switchyard.js (re-executes with ${SHIPPED_NODE_FLAGS.join(' ')})` },
      data: { points },
      targets: [
        check('RSS at 10,000 Ingresses / 50,000 endpoints', '<= 300 MiB', big ? big.rssBeforeGcMiB : NaN, (v) => v <= 300, (v) => `${v} MiB`),
        check('RSS after a full GC at 10,000 Ingresses / 50,000 endpoints', '<= 300 MiB', big ? big.rssMiB : NaN, (v) => v <= 300, (v) => `${v} MiB`),
        check('peak RSS at 10,000 Ingresses / 50,000 endpoints', '<= 300 MiB (informational: startup peak)', big ? big.peakRssMiB : NaN, (v) => v <= 300, (v) => `${v} MiB`),
      ],
    });
  },
  markdown(r) {
    const { points } = r.data as { points: ScalePoint[] };
    const lines = [
      `Started as shipped: ${String(r.settings.started ?? 'node src/main.ts')}. Time to first ready = controller start until the probe route answers. Memory 3 s after ready: heap after a full GC, the young generation before it, RSS before and after that GC, peak RSS (VmHWM).`,
      '',
      '| Ingresses | endpoints | time to first ready | heap used | heap total | young generation | RSS | RSS after GC | peak RSS |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ];
    for (const p of points) lines.push(`| ${p.ingresses} | ${p.endpoints} | ${num(p.readyMs / 1000)} s | ${p.heapUsedMiB} MiB | ${p.heapTotalMiB} MiB | ${p.newSpaceMiB === undefined ? '-' : `${p.newSpaceMiB} MiB`} | ${num(p.rssBeforeGcMiB)} MiB | ${p.rssMiB} MiB | ${p.peakRssMiB} MiB |`);
    return lines.join('\n');
  },
};
