// --workers 2 with the real CLI: request metrics are counted in the workers, and the primary's
// /metrics (native, OpenMetrics, --metrics-compat ingress-nginx) shows them summed, exactly as one
// process would; a killed worker never breaks a scrape. Ejection/retry families are there too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../e2e/helpers.ts';
import { getText as get, jsonLines, oneAppManifest, until } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/switchyard.js', import.meta.url));

/** Sum of the samples of `name` (exact metric name, any labels) whose label text contains `having`. */
function sum(text: string, name: string, having = ''): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (!line.includes(having)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

test('--workers 2: the primary /metrics sums every worker\'s request series (native, OpenMetrics, ingress-nginx); a dead worker does not break the scrape', async (t) => {
  const upstream = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    res.end('app');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-worker-metrics-'));
  await writeFile(join(dir, 'app.yaml'), oneAppManifest(upstreamPort, 'wm', 'metrics.test'));
  const [httpPort, adminPort] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [BIN, '--workers', '2', '--manifests', dir, '--http-port', String(httpPort), '--https-port', '0', '--admin-port', String(adminPort),
      '--bind-address', '127.0.0.1', '--admin-bind-address', '127.0.0.1', '--access-log=false', '--metrics-compat', 'ingress-nginx',
      '--shutdown-grace-period', '0s', '--shutdown-timeout', '2s', '--sync-holdoff', '5ms'],
    { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines = jsonLines(child.stdout);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  const listening = (): number[] => lines.filter((l) => l.msg === 'worker listening').map((l) => l.worker as number);
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    for (const pid of listening()) {
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

  await until(() => listening().length === 2);
  // Both workers have the table once 20 new connections in a row are all answered 200.
  await until(async () => {
    for (let i = 0; i < 20; i++) if ((await get(httpPort, 'metrics.test')).status !== 200) return false;
    return true;
  });
  const before = sum((await get(adminPort, 'admin', '/metrics')).body, 'switchyard_http_requests_total', 'metrics.test');

  // K requests, each on a new connection: the kernel spreads them over both workers.
  const K = 60;
  for (let i = 0; i < K; i++) assert.equal((await get(httpPort, 'metrics.test', `/k${i}`)).status, 200);

  const native = (await get(adminPort, 'admin', '/metrics')).body;
  assert.equal(sum(native, 'switchyard_http_requests_total', 'metrics.test') - before, K, 'summed request counter');
  const durationCount = sum(native, 'switchyard_http_request_duration_seconds_count', 'metrics.test');
  assert.equal(durationCount, sum(native, 'switchyard_http_requests_total', 'metrics.test'), 'histogram _count equals the counter');
  assert.equal(sum(native, 'switchyard_http_request_duration_seconds_bucket', 'le="+Inf"'), durationCount, '+Inf bucket equals _count');
  assert.match(native, /# TYPE switchyard_upstream_ejections_total counter/);
  assert.match(native, /switchyard_upstream_retries_total\{upstream="wm\/app:80"\} 0/);
  assert.equal(sum(native, 'nginx_ingress_controller_requests', 'metrics.test') - before, K, 'ingress-nginx compat family summed too');

  const open = (await get(adminPort, 'admin', '/metrics', 'application/openmetrics-text')).body;
  assert.ok(open.trimEnd().endsWith('# EOF'), 'OpenMetrics exposition');
  assert.equal(sum(open, 'switchyard_http_requests_total', 'metrics.test') - before, K, 'summed in OpenMetrics too');

  // The primary serves no traffic itself, so every count above came from the workers' snapshots.

  // Kill one worker: the scrape still answers 200 (the dead worker's counts leave with it).
  const [victim] = listening();
  process.kill(victim!, 'SIGKILL');
  const scrape = await get(adminPort, 'admin', '/metrics');
  assert.equal(scrape.status, 200);
  assert.match(scrape.body, /switchyard_worker_metrics_skipped_total/);
  await until(() => listening().length === 3); // replaced
  assert.equal((await get(adminPort, 'admin', '/metrics')).status, 200);

  child.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0, `exit code 0; stderr: ${stderr}`);
});
