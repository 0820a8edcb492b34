// Ingress status: written from --publish-status-address / --publish-service, for owned Ingresses
// only, only when different, only by the leader; through PUT .../ingresses/NAME/status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { captureLogs } from '../support/log-capture.ts';
import { KubeApiServer, kubeconfigFor } from '../support/kube-api-server.ts';
import { loadKubeConfig } from '../../src/sources/kube/kube-config.ts';
import { KubeSource } from '../../src/sources/kube/kube-source.ts';
import { IngressStatusWriter, normalizeAddresses } from '../../src/status/status-writer.ts';
import { CONTROLLER_NAME } from '../../src/model/snapshot.ts';
import type { TranslateOptions } from '../../src/model/snapshot.ts';
import { RecordingSink, snapshotOf } from './recording-sink.ts';
import { ingress, ingressClass, service } from './fixtures.ts';

const silent = pino({ level: 'silent' });
const translateOptions: TranslateOptions = {
  ingressClass: 'switchyard', controllerName: CONTROLLER_NAME, watchIngressWithoutClass: false, defaultBackendService: null,
};

async function setup(writer: {
  publishStatusAddress?: string[]; publishService?: { namespace: string; name: string } | null; leader?: () => boolean; namespaces?: string[]; cacheMs?: number;
  logger?: Logger; requestTimeoutMs?: number;
}) {
  const server = new KubeApiServer();
  await server.start();
  server.put(ingressClass());
  server.put(ingressClass('nginx', 'k8s.io/ingress-nginx'));
  server.put(service('shop', 'web'));
  server.put(ingress('shop', 'mine', { host: 'a.example.com', service: 'web' }));
  server.put(ingress('shop', 'mine-too', { host: 'b.example.com', service: 'web' }));
  server.put(ingress('shop', 'theirs', { host: 'c.example.com', service: 'web', className: 'nginx' }));
  const dir = mkdtempSync(join(tmpdir(), 'swy-status-'));
  writeFileSync(join(dir, 'kubeconfig'), kubeconfigFor(server));
  const kubeConfig = loadKubeConfig({ kubeconfig: join(dir, 'kubeconfig') }).kubeConfig;
  const sink = new RecordingSink();
  const source = new KubeSource({ kubeConfig, sink, logger: silent, backoff: { initialMs: 20, maxMs: 100 }, namespaces: writer.namespaces });
  source.start();
  await source.synced;
  const statusWriter = new IngressStatusWriter({
    kubeConfig, logger: writer.logger ?? silent, requestTimeoutMs: writer.requestTimeoutMs, snapshot: () => snapshotOf(sink), translateOptions,
    publishService: writer.publishService ?? null, publishStatusAddress: writer.publishStatusAddress ?? [],
    isLeader: writer.leader ?? (() => true), debounceMs: 5, resyncMs: 60_000, publishServiceCacheMs: writer.cacheMs,
  });
  const statusPuts = () => server.requestLog.filter((e) => e.verb === 'update' && e.resource === 'ingresses/status');
  return {
    server, sink, source, statusWriter, statusPuts,
    lb: (name: string) => server.get('Ingress', 'shop', name)?.status?.loadBalancer?.ingress,
    async close() {
      await statusWriter.stop();
      await source.stop();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('--publish-status-address: owned Ingresses get the addresses once; others are left alone', async () => {
  const h = await setup({ publishStatusAddress: ['lb.example.com', '192.0.2.10', '2001:db8::1'] });
  try {
    h.statusWriter.start();
    await h.statusWriter.whenIdle();
    const expected = [{ ip: '192.0.2.10' }, { ip: '2001:db8::1' }, { hostname: 'lb.example.com' }];
    assert.deepEqual(h.lb('mine'), expected);
    assert.deepEqual(h.lb('mine-too'), expected);
    assert.equal(h.lb('theirs'), undefined, 'an Ingress of another class is not touched');
    assert.equal(h.statusPuts().length, 2);
    // The watch brings the new status back; further syncs write nothing.
    await h.sink.waitFor(() => (h.sink.get('Ingress', 'shop', 'mine') as any)?.status?.loadBalancer?.ingress?.length === 3, 'status watched');
    await h.sink.waitFor(() => (h.sink.get('Ingress', 'shop', 'mine-too') as any)?.status?.loadBalancer?.ingress?.length === 3, 'status watched');
    h.statusWriter.trigger();
    await h.statusWriter.whenIdle();
    await h.statusWriter.sync();
    assert.equal(h.statusPuts().length, 2, 'status written only when it differs');
    // Someone else overwrites the status: it is put back.
    const mine = h.server.get('Ingress', 'shop', 'mine')!;
    mine.status = { loadBalancer: { ingress: [{ ip: '203.0.113.9' }] } };
    h.server.put(mine);
    await h.sink.waitFor(() => (h.sink.get('Ingress', 'shop', 'mine') as any)?.status?.loadBalancer?.ingress?.[0]?.ip === '203.0.113.9', 'overwritten');
    await h.statusWriter.sync();
    assert.deepEqual(h.lb('mine'), expected);
    assert.equal(h.statusPuts().length, 3);
    // A new owned Ingress gets its status on the next trigger (the controller triggers on publish).
    h.server.put(ingress('shop', 'new', { host: 'n.example.com', service: 'web' }));
    await h.sink.waitFor(() => h.sink.get('Ingress', 'shop', 'new') !== undefined, 'new ingress');
    h.statusWriter.trigger();
    await h.statusWriter.whenIdle();
    assert.deepEqual(h.lb('new'), expected);
    // The status PUT carried nothing but status: the spec is unchanged.
    assert.equal(h.server.get('Ingress', 'shop', 'new')!.spec.rules[0].host, 'n.example.com');
  } finally {
    await h.close();
  }
});

test('--publish-service in a watched namespace: read from the informers (no GET), and followed', async () => {
  const h = await setup({ publishService: { namespace: 'ingress', name: 'switchyard' } });
  try {
    h.statusWriter.start();
    await h.statusWriter.whenIdle();
    assert.equal(h.statusPuts().length, 0, 'no Service yet: nothing written');
    const svc = service('ingress', 'switchyard');
    svc.spec.type = 'LoadBalancer';
    svc.status = { loadBalancer: { ingress: [{ ip: '198.51.100.7', ports: [{ port: 80, protocol: 'TCP' }] }] } };
    h.server.put(svc);
    await h.sink.waitFor(() => h.sink.get('Service', 'ingress', 'switchyard') !== undefined, 'service watched');
    await h.statusWriter.sync();
    assert.deepEqual(h.lb('mine'), [{ ip: '198.51.100.7' }]);
    assert.deepEqual(h.lb('mine-too'), [{ ip: '198.51.100.7' }]);
    assert.equal(h.lb('theirs'), undefined);
    svc.status = { loadBalancer: { ingress: [{ hostname: 'abc.elb.example.com' }] } };
    h.server.put(svc);
    await h.sink.waitFor(() => (h.sink.get('Service', 'ingress', 'switchyard') as any)?.status?.loadBalancer?.ingress?.[0]?.hostname !== undefined, 'service change watched');
    await h.sink.waitFor(() => (h.sink.get('Ingress', 'shop', 'mine-too') as any)?.status?.loadBalancer?.ingress?.[0]?.ip === '198.51.100.7', 'status watched');
    await h.statusWriter.sync();
    assert.deepEqual(h.lb('mine'), [{ hostname: 'abc.elb.example.com' }]);
    // The Service was in the snapshot each time: only the first sync (nothing watched yet) asked the API.
    const gets = h.server.requestLog.filter((e) => e.resource === 'services' && e.verb === 'get');
    assert.equal(gets.length, 1);
    assert.equal(gets[0].code, 404);
  } finally {
    await h.close();
  }
});

test('--publish-service outside the watched namespaces: read with GET, reused for a while', async () => {
  const h = await setup({ publishService: { namespace: 'ingress', name: 'switchyard' }, namespaces: ['shop'], cacheMs: 60_000 });
  try {
    const svc = service('ingress', 'switchyard');
    svc.status = { loadBalancer: { ingress: [{ ip: '198.51.100.8' }] } };
    h.server.put(svc);
    h.statusWriter.start();
    await h.statusWriter.whenIdle();
    assert.deepEqual(h.lb('mine'), [{ ip: '198.51.100.8' }]);
    for (let i = 0; i < 3; i++) await h.statusWriter.sync();
    const gets = h.server.requestLog.filter((e) => e.resource === 'services' && e.verb === 'get');
    assert.equal(gets.length, 1, 'one GET, then the cached answer');
    assert.equal(h.sink.get('Service', 'ingress', 'switchyard'), undefined, 'not watched');
  } finally {
    await h.close();
  }
});

test('a follower writes no status; it starts when leadership is gained', async () => {
  let leader = false;
  const h = await setup({ publishStatusAddress: ['192.0.2.10'], leader: () => leader });
  try {
    h.statusWriter.start();
    await h.statusWriter.whenIdle();
    await h.statusWriter.sync();
    assert.equal(h.statusPuts().length, 0);
    leader = true;
    h.statusWriter.trigger();
    await h.statusWriter.whenIdle();
    assert.equal(h.statusPuts().length, 2);
  } finally {
    await h.close();
  }
});

/** The next sync writes the two owned Ingresses (once the API server answers again). */
async function assertNextSyncWritesBoth(h: Awaited<ReturnType<typeof setup>>): Promise<void> {
  h.statusWriter.trigger();
  await h.statusWriter.whenIdle();
  assert.equal(h.statusWriter.stats.updates, 2);
  assert.deepEqual(h.lb('mine'), [{ ip: '192.0.2.10' }]);
}

test('writes held by a stalled API server are cut when leadership is lost, not left to land later', async () => {
  const { logger, lines } = captureLogs('info');
  let leading = true;
  const h = await setup({ publishStatusAddress: ['192.0.2.10'], logger, requestTimeoutMs: 30_000, leader: () => leading });
  try {
    h.server.stall((e) => e.resource === 'ingresses/status');
    h.statusWriter.start();
    const deadline = Date.now() + 5000;
    while (h.server.stalledCount < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(h.server.stalledCount, 2, 'both writes are held by the API server');
    const t0 = Date.now();
    leading = false;
    h.statusWriter.cancelWrites();
    await h.statusWriter.whenIdle();
    assert.ok(Date.now() - t0 < 2000, `the sync ended at once, not at the 30 s deadline (${Date.now() - t0}ms)`);
    assert.deepEqual({ cancelled: h.statusWriter.stats.cancelled, failures: h.statusWriter.stats.failures, updates: h.statusWriter.stats.updates }, { cancelled: 2, failures: 0, updates: 0 });
    const cancelled = lines.filter((l) => l.msg === 'Ingress status update cancelled');
    assert.equal(cancelled.length, 2);
    assert.equal(cancelled[0].reason, 'StatusUpdateCancelled');
    assert.equal(cancelled[0].why, 'no longer the leader');
    const until = Date.now() + 2000;
    while (h.server.stalledCount > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.equal(h.server.stalledCount, 0, 'the client gave the held requests up');
    h.server.unstall();
    assert.equal(h.lb('mine'), undefined, 'nothing was written');
    // Leading again: the next sync writes (a fresh signal).
    leading = true;
    await assertNextSyncWritesBoth(h);
  } finally {
    await h.close();
  }
});

test('status writes to an API server that stops answering time out, are logged, and are retried', async () => {
  const { logger, lines } = captureLogs('info');
  const h = await setup({ publishStatusAddress: ['192.0.2.10'], logger, requestTimeoutMs: 150 });
  try {
    h.server.stall((e) => e.resource === 'ingresses/status');
    h.statusWriter.start();
    const t0 = Date.now();
    await h.statusWriter.whenIdle();
    assert.ok(Date.now() - t0 < 2000, `the sync ended at the request deadline (${Date.now() - t0}ms)`);
    assert.equal(h.statusWriter.stats.failures, 2);
    assert.equal(h.statusWriter.stats.updates, 0);
    const failed = lines.filter((l) => l.msg === 'updating Ingress status failed; will retry');
    assert.equal(failed.length, 2);
    assert.equal((failed[0].err as { code?: string }).code, 'SWY_ERR_KUBE_API_TIMEOUT');
    assert.equal(failed[0].reason, 'StatusUpdateFailed');
    // The next sync (resync, published table, leadership) writes them.
    h.server.unstall();
    await assertNextSyncWritesBoth(h);
  } finally {
    await h.close();
  }
});

test('normalizeAddresses: ip/hostname only, deduplicated, IPs first, sorted', () => {
  assert.deepEqual(
    normalizeAddresses([{ hostname: 'b' }, { ip: '10.0.0.2' }, { ip: '10.0.0.1', ports: [{ port: 1, protocol: 'TCP' }] }, { hostname: 'a' }, { ip: '10.0.0.2' }, {}]),
    [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { hostname: 'a' }, { hostname: 'b' }],
  );
});
