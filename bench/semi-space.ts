// What V8's young-generation size costs and saves (bench/PROFILE.md section 6), not part of
// `npm run bench`:
//   node bench/semi-space.ts [--sizes 0,8,16] [--rounds 4] [--duration 5] [--ingresses 10000] [--skip-throughput] [--skip-memory]
// Each size is one controller started as shipped plus `--max-semi-space-size=<size>` on the
// controller's own command line only (0 = V8's default, which it sizes from the machine's RAM);
// the load generator and the upstream run without it. Throughput: every round runs every size
// once per case (A B C, A B C, ...; bench/lib/compare.ts), 100 B and 16 KiB at 50 connections,
// the load generator on core 0 and the servers on core 1. Memory: the scale scenario's own
// measurement (bench/scenarios/scale.ts) at --ingresses, once per size, sizes alternated.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compare, pairedRatio } from './lib/compare.ts';
import { BENCH_HOST, SHIPPED_ARGS, benchManifests } from './lib/contenders.ts';
import { ensureNginx } from './lib/nginx.ts';
import { installCleanup, pinSelf, stopAll } from './lib/procs.ts';
import { LOAD_CORE, SERVER_CORE } from './lib/load.ts';
import { startSwitchyard, type Switchyard } from './lib/switchyard.ts';
import { startUpstream, type Upstream } from './lib/upstreams.ts';
import { measureScalePoint } from './scenarios/scale.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '0,8,16' },
    rounds: { type: 'string', default: '4' },
    duration: { type: 'string', default: '5' },
    ingresses: { type: 'string', default: '10000' },
    'skip-throughput': { type: 'boolean', default: false },
    'skip-memory': { type: 'boolean', default: false },
  },
});
const sizes = values.sizes.split(',').map(Number);
const flag = (size: number): string => `--max-semi-space-size=${size}`;
const label = (size: number): string => (size === 0 ? 'default' : `semi-${size}`);
const log = (message: string): void => void process.stderr.write(`${message}\n`);

const tmp = mkdtempSync(join(tmpdir(), 'swy-semi-space-'));
installCleanup(() => rmSync(tmp, { recursive: true, force: true }));
pinSelf(LOAD_CORE);
const nginx = ensureNginx(log);
const upstreamKind = nginx ? 'nginx' : 'node';
const report: Record<string, unknown> = { sizes: sizes.map(label), upstream: upstreamKind };
try {
  if (!values['skip-throughput']) {
    const upstream = await startUpstream(upstreamKind, 'bench-up', tmp, nginx);
    const running: Array<{ size: number; sy: Switchyard }> = [];
    try {
      const manifests = benchManifests({ tmp }, upstream.port);
      for (const size of sizes) {
        running.push({
          size,
          sy: await startSwitchyard({
            manifests: manifests.dir, core: SERVER_CORE, nodeArgs: [flag(size)], extraArgs: SHIPPED_ARGS(),
            probe: { host: BENCH_HOST, path: '/b100', upstream: upstream.name },
          }),
        });
      }
      const figures = await compare(
        running.map(({ size, sy }) => ({ label: label(size), port: sy.port, host: BENCH_HOST, pids: [sy.proc.pid] })),
        [{ size: 100, connections: 50 }, { size: 16384, connections: 50 }],
        { rounds: Number(values.rounds), durationSec: Number(values.duration), warmupSec: 3, log },
      );
      report.throughput = figures.map((f) => ({
        case: f.label,
        perSize: Object.fromEntries(Object.entries(f.contenders).map(([k, v]) => [k, { rps: Math.round(v.rps), p99: v.p99, cpuUsPerReq: v.cpuUsPerReq, roundsRps: v.rounds.map((s) => Math.round(s.rps)), errors: v.errors }])),
        // Paired per-round ratios against V8's default (> 1: more req/s, or more CPU per request).
        vsDefault: Object.fromEntries(sizes.filter((s) => s !== 0).map((s) => [label(s), {
          rps: pairedRatio(f, label(s), 'default'),
          cpuUsPerReq: pairedRatio(f, label(s), 'default', 'cpuUsPerReq'),
        }])),
      }));
    } finally {
      for (const { sy } of running) await sy.stop();
      await upstream.stop();
    }
  }
  if (!values['skip-memory']) {
    const a = await startUpstream(upstreamKind, 'prop-a', tmp, nginx);
    const b = await startUpstream(upstreamKind, 'prop-b', tmp, nginx);
    try {
      const points = [];
      for (const size of sizes) {
        const p = await measureScalePoint(tmp, Number(values.ingresses), a.port, b.port, [flag(size)]);
        log(`  ${label(size)}: ready ${(p.readyMs / 1000).toFixed(1)} s, heap ${p.heapUsedMiB} MiB, young generation ${p.newSpaceMiB} MiB, RSS ${p.rssBeforeGcMiB} MiB (after GC ${p.rssMiB}, peak ${p.peakRssMiB})`);
        points.push({ size: label(size), ...p });
      }
      report.memory = points;
    } finally {
      await a.stop();
      await b.stop();
    }
  }
  console.log(JSON.stringify(report, null, 2));
} finally {
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
}
