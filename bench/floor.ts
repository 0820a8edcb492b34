// How far can a pass-through on this machine go? Three floors next to http-proxy, Switchyard and
// nginx, all forwarding to the same nginx upstream, pinned like `npm run bench` (servers on core 1,
// autocannon on core 0), contenders alternated, medians of rounds (PROFILE.md section 14):
//   floor-undici     node:http + undici Pool.request, nothing else (the orientation point)
//   floor-node-http  node:http + raw keep-alive sockets to the upstream, nothing else
//   floor-net        net.Server + raw sockets, request line found by hand, response bytes copied
// Not part of `npm run bench` (the floors are toys, not contenders):
//   ./node_modules/.bin/node bench/floor.ts [--rounds N] [--duration SEC]
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir, loadavg } from 'node:os';
import { ensureNginx } from './lib/nginx.ts';
import { machineInfo, type BenchContext } from './lib/context.ts';
import { installCleanup, pinSelf, start, stopAll } from './lib/procs.ts';
import { LOAD_CORE, SERVER_CORE } from './lib/load.ts';
import { startUpstream } from './lib/upstreams.ts';
import { startContender, BENCH_HOST, type Contender } from './lib/contenders.ts';
import { compare, pairedRatio, type LoadTarget } from './lib/compare.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, duration: { type: 'string', default: '5' } } });
const tmp = mkdtempSync(join(tmpdir(), 'switchyard-floor-'));
installCleanup(() => rmSync(tmp, { recursive: true, force: true }));
pinSelf(LOAD_CORE);
const log = (message: string): void => console.log(message);
const nginx = ensureNginx(log);
if (!nginx) throw new Error('the floors forward to an nginx upstream; nginx is not available');
const ctx: BenchContext = { quick: false, rounds: Number(values.rounds), durationSec: Number(values.duration), tmp, nginx, machine: machineInfo(nginx), log };
log(`machine: ${ctx.machine.cpus} CPUs, node ${ctx.machine.node}, nginx ${ctx.machine.nginx}, load avg ${loadavg().map((n) => n.toFixed(2)).join(' ')}`);

async function startFloor(name: string): Promise<LoadTarget> {
  const script = fileURLToPath(new URL(`./servers/${name}.ts`, import.meta.url));
  const proc = start(name, process.execPath, [script, String(upstream.port)], { core: SERVER_CORE });
  const m = await proc.waitForLine(/^listening (\d+)/, 10_000);
  return { label: name, port: Number(m[1]), host: BENCH_HOST, pids: [proc.pid] };
}

const upstream = await startUpstream('nginx', 'bench-up', tmp, nginx);
const contenders: Contender[] = [];
for (const name of ['nginx', 'http-proxy', 'switchyard'] as const) contenders.push(await startContender(name, ctx, upstream));
const targets: LoadTarget[] = [
  ...contenders.map((c) => ({ label: c.name, port: c.port, host: c.host, pids: c.pids })),
  await startFloor('floor-undici'),
  await startFloor('floor-node-http'),
  await startFloor('floor-net'),
];
try {
  const [f] = await compare(targets, [{ size: 100, connections: 50 }], { rounds: ctx.rounds, durationSec: ctx.durationSec, warmupSec: 3, log });
  log('\ncontender         req/s  p99 ms  cpu us/req (user)  x nginx  x http-proxy');
  for (const t of targets) {
    const c = f.contenders[t.label];
    log(`${t.label.padEnd(16)} ${String(c.rps).padStart(6)}  ${String(c.p99).padStart(6)}  ${String(c.cpuUsPerReq).padStart(6)} (${c.cpuUserUsPerReq})  ${pairedRatio(f, t.label, 'nginx').toFixed(2).padStart(7)}  ${pairedRatio(f, t.label, 'http-proxy').toFixed(2).padStart(12)}`);
  }
} finally {
  await stopAll();
}
