// Instructions per proxied request under callgrind (bench/PROFILE.md sections 5 and 6), for
// differences of a few percent that wall-clock rounds on a shared machine cannot resolve:
//   node bench/callgrind-requests.ts [--node-args "--max-semi-space-size=0;--max-semi-space-size=8"] [--rounds 1] [--requests 2000] [--size 100] [--idle SEC] [--warmup N] [--connections 20] [--keep DIR]
// For each variant (node flags given to the controller only, ';'-separated; variants alternated
// per round): the controller (`node src/main.ts`, access log off, metrics on, the nginx upstream)
// runs under `valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes`; --warmup
// (default 30,000: steady state, PROFILE.md section 12) keep-alive warm-up requests (--connections, default 20), then instrumentation on, exactly --requests
// requests, off, dump (--idle SEC: after the warm-up the controller idles SEC seconds, so V8's
// memory reducer runs its full GCs, and is warmed up again before measuring). The figure is the
// main thread's count (compiler and GC helper threads vary).
// Each round also says which of two states node's process.nextTick was in (PROFILE.md section 11):
// its TurboFan code either builds the tick object inline or calls V8's runtime for each computed
// key (about 10k more instructions per request), decided at JIT time, not by our code. Compare
// rounds in the same state.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { BENCH_HOST, SHIPPED_ARGS, benchManifests } from './lib/contenders.ts';
import { ensureNginx } from './lib/nginx.ts';
import { installCleanup, pinSelf, start, stopAll } from './lib/procs.ts';
import { LOAD_CORE, SERVER_CORE } from './lib/load.ts';
import { freePorts, get, waitUntil } from './lib/net.ts';
import { repoRoot } from './lib/switchyard.ts';
import { startUpstream } from './lib/upstreams.ts';

const { values } = parseArgs({
  options: {
    'node-args': { type: 'string', default: '--max-semi-space-size=0;--max-semi-space-size=8;--max-semi-space-size=16' },
    rounds: { type: 'string', default: '1' },
    requests: { type: 'string', default: '2000' },
    size: { type: 'string', default: '100' },
    // Copy the main thread's callgrind file here (for callgrind_annotate) instead of discarding it.
    keep: { type: 'string' },
    idle: { type: 'string', default: '0' },
    // Warm-up requests before measuring (V8 tiers hot functions up to TurboFan as calls accumulate).
    warmup: { type: 'string', default: '30000' },
    connections: { type: 'string', default: '20' },
  },
});
const variants = values['node-args'].split(';').map((v) => v.split(/\s+/).filter(Boolean));
const requests = Number(values.requests);
const log = (message: string): void => void process.stderr.write(`${message}\n`);

const tmp = mkdtempSync(join(tmpdir(), 'swy-callgrind-'));
installCleanup(() => rmSync(tmp, { recursive: true, force: true }));
pinSelf(LOAD_CORE);

async function load(port: number, amount: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    autocannon({ url: `http://127.0.0.1:${port}/b${values.size}`, headers: { host: BENCH_HOST }, connections: Number(values.connections), amount, timeout: 60 }, (err, r) => {
      if (err) reject(err);
      else if (r.non2xx || r.errors) reject(new Error(`${r.non2xx} non-2xx, ${r.errors} errors`));
      else resolve();
    });
  });
}

/** Main-thread instructions (Ir) of the controller under callgrind for `requests` requests. */
async function measure(nodeArgs: readonly string[], outDir: string): Promise<{ main: number; all: number; slowTicks: { calls: number; instructions: number } }> {
  const [port, httpsPort, adminPort] = (await freePorts(3)) as [number, number, number];
  const manifests = benchManifests({ tmp }, upstreamPort);
  const proc = start('callgrind', 'valgrind', [
    '--tool=callgrind', '--instr-atstart=no', '--separate-threads=yes', `--callgrind-out-file=${join(outDir, 'callgrind.out.%p')}`,
    process.execPath, ...nodeArgs, join(repoRoot, 'src/main.ts'), '--manifests', manifests.dir,
    '--http-port', String(port), '--https-port', String(httpsPort), '--admin-port', String(adminPort),
    '--bind-address', '127.0.0.1', '--admin-bind-address', '127.0.0.1', '--log-level', 'warn', ...SHIPPED_ARGS(),
  ], { core: SERVER_CORE, cwd: repoRoot });
  try {
    await waitUntil('controller under callgrind', async () => (await get(port, '/b100', BENCH_HOST, 5000, false)).status === 200, 300_000, 200);
    await load(port, Number(values.warmup));
    if (Number(values.idle) > 0) {
      await new Promise((resolve) => setTimeout(resolve, Number(values.idle) * 1000));
      await load(port, Number(values.warmup));
    }
    const control = (arg: string): void => {
      const r = spawnSync('callgrind_control', [...arg.split(' '), String(proc.pid)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`callgrind_control ${arg}: ${r.stderr}`);
    };
    control('-i on');
    await load(port, requests);
    control('-i off');
    control('-d');
  } finally {
    await proc.stop('SIGTERM', 30_000);
  }
  // --separate-threads: one file per thread, "<pid>-<thread>"; thread 01 is the main thread.
  let main = 0;
  let all = 0;
  let slowTicks = { calls: 0, instructions: 0 };
  for (const file of readdirSync(outDir).filter((f) => f.startsWith('callgrind.out.'))) {
    const text = readFileSync(join(outDir, file), 'utf8');
    const m = text.match(/^totals: (\d+)/m);
    const ir = m ? Number(m[1]) : 0;
    all += ir;
    if (/-01$/.test(file) && ir >= main) {
      main = ir;
      slowTicks = runtimeCalls(text, 'Runtime_DefineKeyedOwnPropertyInLiteral');
      if (values.keep !== undefined) copyFileSync(join(outDir, file), join(values.keep, `${file}.${Date.now()}`));
    }
  }
  return { main, all, slowTicks };
}

/**
 * Calls to a V8 runtime function and the instructions spent in them (inclusive), from a callgrind
 * file: its id comes from the first `fn=`/`cfn=` line that names it; every `cfn=(id)` is followed
 * by `calls=N ...` and a cost line whose second field is the inclusive Ir.
 */
function runtimeCalls(text: string, name: string): { calls: number; instructions: number } {
  const id = new RegExp(`^c?fn=(\\(\\d+\\)) [^\\n]*${name}`, 'm').exec(text)?.[1];
  if (id === undefined) return { calls: 0, instructions: 0 };
  let calls = 0;
  let instructions = 0;
  const lines = text.split('\n');
  for (let i = 0; i + 2 < lines.length; i++) {
    if (!lines[i].startsWith(`cfn=${id}`)) continue;
    const call = /^calls=(\d+)/.exec(lines[i + 1]);
    if (call === null) continue;
    calls += Number(call[1]);
    instructions += Number(lines[i + 2].split(' ')[1] ?? 0);
  }
  return { calls, instructions };
}

const nginx = ensureNginx(log);
const upstream = await startUpstream(nginx ? 'nginx' : 'node', 'bench-up', tmp, nginx);
const upstreamPort = upstream.port;
const results: Record<string, Array<Record<string, number>>> = {};
try {
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const nodeArgs of variants) {
      const key = nodeArgs.join(' ') || '(none)';
      const outDir = mkdtempSync(join(tmp, 'out-'));
      const { main, all, slowTicks } = await measure(nodeArgs, outDir);
      const figure = {
        mainPerRequest: Math.round(main / requests),
        allPerRequest: Math.round(all / requests),
        // > 1 per request: nextTick's TurboFan code calls the runtime for its computed keys (section 11)
        nextTickRuntimeCallsPerRequest: Math.round((slowTicks.calls / requests) * 100) / 100,
        nextTickRuntimeInstrPerRequest: Math.round(slowTicks.instructions / requests),
      };
      const state = figure.nextTickRuntimeCallsPerRequest > 1 ? `slow nextTick, ${figure.nextTickRuntimeInstrPerRequest} instr/req of it` : 'fast nextTick';
      log(`  round ${round + 1} ${key.padEnd(28)} main thread ${figure.mainPerRequest} instr/req (all threads ${figure.allPerRequest}; ${state})`);
      (results[key] ??= []).push(figure);
    }
  }
  console.log(JSON.stringify({ requests, size: Number(values.size), results }, null, 2));
} finally {
  await upstream.stop();
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
}
