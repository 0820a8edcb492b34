// Leader election on a coordination.k8s.io/v1 Lease against the in-repo API server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { KubeApiServer, kubeconfigFor } from '../support/kube-api-server.ts';
import { loadKubeConfig } from '../../src/sources/kube/kube-config.ts';
import { LeaderElector } from '../../src/status/leader-election.ts';
import type { LeaderElectionOptions } from '../../src/status/leader-election.ts';
import { captureLogs } from '../support/log-capture.ts';

const silent = pino({ level: 'silent' });
const TIMING = { leaseDurationMs: 900, renewDeadlineMs: 600, retryPeriodMs: 100 };

async function setup() {
  const server = new KubeApiServer();
  await server.start();
  const dir = mkdtempSync(join(tmpdir(), 'swy-lease-'));
  writeFileSync(join(dir, 'kubeconfig'), kubeconfigFor(server));
  const kubeConfig = loadKubeConfig({ kubeconfig: join(dir, 'kubeconfig') }).kubeConfig;
  const electors: LeaderElector[] = [];
  const make = (identity: string, more: Partial<LeaderElectionOptions> = {}) => {
    const e = new LeaderElector({ kubeConfig, logger: silent, namespace: 'ingress', name: 'switchyard-leader', identity, ...TIMING, ...more });
    electors.push(e);
    return e;
  };
  return {
    server, make,
    async close() {
      for (const e of electors) await e.stop();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function becomes(e: LeaderElector, leader: boolean, timeoutMs = 5000): Promise<number> {
  const t0 = Date.now();
  if (e.isLeader === leader) return Promise.resolve(0);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`${e.identity} did not become ${leader ? 'leader' : 'follower'}`)); }, timeoutMs);
    const off = e.onChange((l) => {
      if (l !== leader) return;
      clearTimeout(timer);
      off();
      resolve(Date.now() - t0);
    });
  });
}

test('one replica holds the Lease; the other follows; release on stop hands over at once', async () => {
  const h = await setup();
  try {
    const a = h.make('a');
    const b = h.make('b');
    a.start();
    await becomes(a, true);
    b.start();
    // b polls several times and must stay follower while a renews
    await h.server.nextRequest((e) => e.resource === 'leases' && e.verb === 'get');
    for (let i = 0; i < 5; i++) await h.server.nextRequest((e) => e.resource === 'leases' && e.verb === 'update');
    assert.equal(b.isLeader, false);
    assert.equal(a.isLeader, true);
    const lease = h.server.get('Lease', 'ingress', 'switchyard-leader')!;
    assert.equal(lease.spec.holderIdentity, 'a');
    assert.match(lease.spec.renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'MicroTime format');
    assert.equal(lease.spec.leaseDurationSeconds, 1);

    await a.stop();
    assert.equal(a.isLeader, false);
    assert.equal(h.server.get('Lease', 'ingress', 'switchyard-leader')!.spec.holderIdentity, '', 'released');
    const took = await becomes(b, true);
    assert.ok(took < TIMING.leaseDurationMs, `b took over a released Lease without waiting for expiry (${took}ms)`);
    assert.equal(h.server.get('Lease', 'ingress', 'switchyard-leader')!.spec.leaseTransitions, 1);
    const verbs = new Set(h.server.requestLog.map((e) => `${e.verb} ${e.resource}`));
    assert.deepEqual([...verbs].sort(), ['create leases', 'get leases', 'update leases']);
  } finally {
    await h.close();
  }
});

test('a Lease held by a replica that vanished is taken over after the lease duration', async () => {
  const h = await setup();
  try {
    h.server.put({
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { namespace: 'ingress', name: 'switchyard-leader' },
      spec: { holderIdentity: 'ghost', leaseDurationSeconds: 1, renewTime: new Date().toISOString(), leaseTransitions: 3 },
    });
    const b = h.make('b');
    b.start();
    const took = await becomes(b, true);
    assert.ok(took >= 900, `waited for the lease to expire by its own clock (${took}ms)`);
    const spec = h.server.get('Lease', 'ingress', 'switchyard-leader')!.spec;
    assert.equal(spec.holderIdentity, 'b');
    assert.equal(spec.leaseTransitions, 4);
  } finally {
    await h.close();
  }
});

test('a leader that cannot renew steps down after the renew deadline, and comes back', async () => {
  const h = await setup();
  try {
    const a = h.make('a');
    a.start();
    await becomes(a, true);
    await h.server.stop();
    const t0 = Date.now();
    await becomes(a, false);
    const after = Date.now() - t0;
    assert.ok(after < TIMING.leaseDurationMs, `stepped down before the lease could expire for others (${after}ms)`);
    await h.server.start();
    await becomes(a, true);
  } finally {
    await h.close();
  }
});

test('stop() is bounded when the API server accepts connections but never answers', async () => {
  const { createServer } = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const blackhole = createServer((s) => { sockets.add(s); s.on('error', () => {}); });
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
  const port = (blackhole.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'swy-lease-'));
  writeFileSync(join(dir, 'kubeconfig'), JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'x',
    clusters: [{ name: 'x', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'x', user: {} }], contexts: [{ name: 'x', context: { cluster: 'x', user: 'x' } }],
  }));
  const kubeConfig = loadKubeConfig({ kubeconfig: join(dir, 'kubeconfig') }).kubeConfig;
  const e = new LeaderElector({ kubeConfig, logger: silent, namespace: 'ingress', name: 'l', identity: 'a', ...TIMING });
  try {
    e.start();
    await new Promise<void>((resolve) => {
      const check = () => (sockets.size > 0 ? resolve() : setTimeout(check, 5));
      check();
    });
    const t0 = Date.now();
    await e.stop();
    assert.ok(Date.now() - t0 < 2000, `stop() returned in ${Date.now() - t0}ms`);
    assert.equal(e.isLeader, false);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => blackhole.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a leader whose API server stops answering steps down within the renew deadline, and comes back when it answers', async () => {
  const h = await setup();
  const { logger, lines } = captureLogs('info');
  try {
    // A request deadline far past the renew deadline: the renew deadline alone must cut the renewal.
    const a = h.make('a', { logger, requestTimeoutMs: 30_000 });
    a.start();
    await becomes(a, true);
    let lastRenewedAt = Date.now();
    const off = h.server.onRequest((e) => {
      if (e.resource === 'leases' && e.verb === 'update' && e.code === 200) lastRenewedAt = Date.now();
    });
    await h.server.nextRequest((e) => e.resource === 'leases' && e.verb === 'update');
    h.server.stall((e) => e.resource === 'leases');
    await h.server.nextRequest((e) => e.resource === 'leases' && e.code === 0); // a request is hanging
    await becomes(a, false);
    off();
    const since = Date.now() - lastRenewedAt;
    assert.ok(since <= TIMING.renewDeadlineMs + 100, `stepped down ${since}ms after the last renewal (renew deadline ${TIMING.renewDeadlineMs}ms)`);
    assert.ok(since >= TIMING.renewDeadlineMs - 100, `not before the renew deadline (${since}ms)`);
    const line = lines.find((l) => l.reason === 'RenewDeadlineExceeded');
    assert.equal(line?.msg, 'could not renew the Lease within the renew deadline; no longer leader');
    assert.equal(line.level, 'error');
    // The renewal in flight was cut at the deadline, not left to its 30 s request deadline.
    // The renewal in flight was cut at the deadline, not left to its 30 s request deadline: its
    // failure is logged before the next attempt (which hangs too) is sent.
    await h.server.nextRequest((e) => e.resource === 'leases' && e.code === 0);
    const cut = lines.find((l) => l.msg === 'reading the Lease failed' || l.msg === 'renewing the Lease failed');
    assert.equal((cut?.err as { code?: string } | undefined)?.code, 'SWY_ERR_KUBE_API_TIMEOUT');
    assert.equal(a.stats.lost, 1);

    h.server.unstall();
    await becomes(a, true, 2000);
    assert.equal(h.server.get('Lease', 'ingress', 'switchyard-leader')!.spec.holderIdentity, 'a');
  } finally {
    await h.close();
  }
});

test('a follower against a silent API server fails each attempt at its request deadline and keeps campaigning', async () => {
  const h = await setup();
  const { logger, lines } = captureLogs('info');
  try {
    h.server.stall();
    const b = h.make('b', { logger, requestTimeoutMs: 150 });
    b.start();
    // Three attempts reach the server: the first two were given up at their deadline.
    for (let i = 0; i < 3; i++) await h.server.nextRequest((e) => e.resource === 'leases' && e.code === 0);
    assert.equal(b.isLeader, false);
    const failed = lines.filter((l) => l.msg === 'reading the Lease failed');
    assert.ok(failed.length >= 2, `each stalled attempt failed and was logged (${failed.length})`);
    assert.equal((failed[0].err as { code?: string }).code, 'SWY_ERR_KUBE_API_TIMEOUT');
    assert.equal(failed[0].level, 'warn');
    h.server.unstall();
    await becomes(b, true, 2000);
  } finally {
    await h.close();
  }
});
