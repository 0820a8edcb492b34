// --workers N (README "Resilience"), with the real CLI spawned: a primary and 2 workers sharing the
// HTTP port. Requests are served by both workers (the upstream maps each connection to the worker
// process that owns its other end, via /proc), a manifest change reaches every worker, a killed
// worker loses only its own in-flight requests and is replaced, SIGTERM exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { availableCpus } from '../../src/runtime/workers.ts';
import { freePort } from '../e2e/helpers.ts';
import { getText as get, jsonLines, oneAppManifest, until } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/switchyard.js', import.meta.url));

/** The pid among `pids` holding the socket whose local port is `port` (Linux /proc). */
function ownerOf(port: number, pids: readonly number[]): number | null {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  let inode = '';
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1]?.endsWith(`:${hex}`)) inode = f[9] ?? '';
    }
  }
  if (inode === '') return null;
  for (const pid of pids) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) return pid;
        } catch {
          // fd closed meanwhile
        }
      }
    } catch {
      // process gone
    }
  }
  return null;
}

test('--workers 2: both workers serve, a change reaches every worker, a killed worker is replaced, SIGTERM exits 0', async (t) => {
  let workerPids: number[] = [];
  const servedBy = new Set<number>();
  const upstream = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    const owner = ownerOf(req.socket.remotePort ?? 0, workerPids);
    if (owner !== null) servedBy.add(owner);
    if (req.url === '/slow') {
      setTimeout(() => res.end('slow'), 300);
      return;
    }
    res.end('app');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-workers-'));
  await writeFile(join(dir, 'app.yaml'), oneAppManifest(upstreamPort, 'workers', 'one.test'));
  const [httpPort, adminPort] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [BIN, '--workers', '2', '--manifests', dir, '--http-port', String(httpPort), '--https-port', '0', '--admin-port', String(adminPort),
      '--bind-address', '127.0.0.1', '--admin-bind-address', '127.0.0.1', '--access-log=false', '--shutdown-grace-period', '0s', '--shutdown-timeout', '2s',
      '--sync-holdoff', '5ms'],
    { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines = jsonLines(child.stdout);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    for (const pid of workerPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    upstream.closeAllConnections();
    upstream.close();
    await rm(dir, { recursive: true, force: true });
  });
  const listeningWorkers = (): number[] => lines.filter((l) => l.msg === 'worker listening').map((l) => l.worker as number);

  // 1. Both workers listen and serve the table.
  await until(() => listeningWorkers().length === 2);
  workerPids = listeningWorkers();
  await until(async () => (await get(httpPort, 'one.test')).body === 'app');
  // Batches of concurrent requests: the primary hands a connection to a worker that is free, so
  // strictly sequential requests can all land on one while the other is still busy starting up
  // (its first table, its settle GC). Bounded: at most 100 batches.
  for (let i = 0; i < 100 && servedBy.size < 2; i++) {
    const bodies = await Promise.all([1, 2, 3, 4].map(() => get(httpPort, 'one.test').then((r) => r.body)));
    assert.deepEqual(bodies, ['app', 'app', 'app', 'app']);
  }
  assert.deepEqual([...servedBy].sort(), [...workerPids].sort(), 'requests were proxied by both worker processes');
  assert.equal((await get(adminPort, 'admin', '/readyz')).status, 200);

  // 2. A manifest change reaches every worker: each answers the new host (new connections spread
  // over both workers; 20 in a row all 200 means both have it).
  const t0 = Date.now();
  await writeFile(join(dir, 'app.yaml'), oneAppManifest(upstreamPort, 'workers', 'two.test'));
  await until(async () => {
    for (let i = 0; i < 20; i++) if ((await get(httpPort, 'two.test')).status !== 200) return false;
    return true;
  });
  t.diagnostic(`change visible on every worker after ${Date.now() - t0} ms (file watch + holdoff + IPC + compile)`);
  assert.equal((await get(httpPort, 'one.test')).status, 404);
  // The primary knows it: both workers acked the new generation (sent as a delta against the one
  // they held; none had to ask for a full snapshot), logged once and timed in its /metrics.
  const published = lines.filter((l) => l.msg === 'route table published').map((l) => l.generation as number);
  const latest = Math.max(...published);
  await until(() => lines.some((l) => l.msg === 'route table reached every worker' && l.generation === latest));
  const reached = lines.find((l) => l.msg === 'route table reached every worker' && l.generation === latest)!;
  assert.equal(reached.workers, 2);
  assert.ok(typeof reached.durationMs === 'number' && reached.durationMs >= 0 && reached.durationMs < 5000, `durationMs ${String(reached.durationMs)}`);
  t.diagnostic(`generation ${latest} reached both workers ${String(reached.durationMs)} ms after the primary published it`);
  assert.ok(!lines.some((l) => l.reason === 'DeltaNotApplicable' || l.reason === 'CompileFailed'), 'no resync, no compile failure');
  const metrics = (await get(adminPort, 'admin', '/metrics')).body;
  const count = Number(/^switchyard_worker_table_propagation_seconds_count (\d+)/m.exec(metrics)?.[1]);
  assert.ok(count >= 1, `propagation histogram counted the tables that reached both workers (${count})`);

  // 3. Kill one worker under a short bounded load: only its in-flight requests fail; it is replaced.
  const [victim] = workerPids;
  const kill = setTimeout(() => process.kill(victim!, 'SIGKILL'), 120); // mid-load: some of its requests are in flight
  const outcomes = await Promise.all(
    Array.from({ length: 40 }, async (_, i) => {
      await new Promise((r) => setTimeout(r, i * 5));
      return get(httpPort, 'two.test', '/slow').then((r) => r.status, () => 'error' as const);
    }),
  );
  clearTimeout(kill);
  const failed = outcomes.filter((o) => o !== 200).length;
  t.diagnostic(`worker killed under load: ${failed}/40 requests failed`);
  assert.ok(failed < 40, 'the other worker kept serving');
  await until(() => listeningWorkers().length === 3);
  const replacement = listeningWorkers()[2]!;
  workerPids = [workerPids[1]!, replacement];
  assert.ok(lines.some((l) => l.reason === 'WorkerExited' && l.worker === victim));
  // The replacement got the current table (not the startup one): every worker answers two.test.
  servedBy.clear();
  await until(async () => {
    for (let i = 0; i < 20; i++) if ((await get(httpPort, 'two.test')).status !== 200) return false;
    return servedBy.has(replacement);
  });

  // 4. SIGTERM: every worker drains, the primary exits 0.
  child.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0, `exit code 0; stderr: ${stderr}`);
  for (const pid of workerPids) assert.throws(() => process.kill(pid, 0), 'worker exited');
});

test('availableCpus: os.availableParallelism(), lowered by a cgroup v2 cpu.max quota', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-cpumax-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'cpu.max');
  assert.equal(availableCpus(join(dir, 'missing')), availableParallelism());
  await writeFile(file, 'max 100000\n');
  assert.equal(availableCpus(file), availableParallelism());
  await writeFile(file, '50000 100000\n'); // half a CPU: one worker
  assert.equal(availableCpus(file), 1);
  await writeFile(file, `${150000 * availableParallelism()} 100000\n`); // quota above the CPUs: the CPUs
  assert.equal(availableCpus(file), availableParallelism());
});
