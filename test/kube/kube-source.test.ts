// The Kubernetes source against the in-repo API server: real client-node ListWatch informers, a real
// kubeconfig file, a recording ChangeSink standing in for the store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { KubeApiServer, kubeconfigFor } from '../support/kube-api-server.ts';
import { KubeSource } from '../../src/sources/kube/kube-source.ts';
import { loadKubeConfig } from '../../src/sources/kube/kube-config.ts';
import { RecordingSink } from './recording-sink.ts';
import { endpointSlice, ingress, ingressClass, opaqueSecret, service, tlsSecret } from './fixtures.ts';

const silent = pino({ level: 'silent' });

interface Harness {
  server: KubeApiServer;
  sink: RecordingSink;
  source: KubeSource;
  close(): Promise<void>;
}

async function harness(opts: { namespaces?: string[]; token?: string; goneAs?: 'event' | 'http'; server?: KubeApiServer; seed?: (s: KubeApiServer) => void; start?: boolean; pageSize?: number } = {}): Promise<Harness> {
  const server = opts.server ?? new KubeApiServer({ token: opts.token, goneAs: opts.goneAs });
  await server.start();
  opts.seed?.(server);
  const dir = mkdtempSync(join(tmpdir(), 'swy-kube-'));
  const file = join(dir, 'kubeconfig');
  writeFileSync(file, kubeconfigFor(server, opts.token));
  const { kubeConfig } = loadKubeConfig({ kubeconfig: file });
  const sink = new RecordingSink();
  const source = new KubeSource({
    kubeConfig, sink, logger: silent, namespaces: opts.namespaces,
    backoff: { initialMs: 20, maxMs: 200 }, pageSize: opts.pageSize,
  });
  if (opts.start !== false) source.start();
  return {
    server, sink, source,
    async close() {
      await source.stop();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function seedBasic(s: KubeApiServer): void {
  s.put(ingressClass());
  s.put(service('shop', 'web'));
  s.put(endpointSlice('shop', 'web', 8080, [{ address: '10.0.0.1' }]));
  s.put(ingress('shop', 'web', { host: 'shop.example.com', service: 'web' }));
  s.put(tlsSecret('shop', 'shop-tls'));
  s.put(opaqueSecret('shop', 'db-password'));
}

test('first list of every kind reaches the sink as replace(), normalized, and resolves synced', async () => {
  const h = await harness({ seed: seedBasic });
  try {
    await h.source.synced;
    assert.equal(h.source.isSynced, true);
    assert.deepEqual(h.sink.names('Ingress'), ['shop/web']);
    assert.deepEqual(h.sink.names('IngressClass'), ['/switchyard']);
    assert.deepEqual(h.sink.names('Service'), ['shop/web']);
    assert.deepEqual(h.sink.names('EndpointSlice'), ['shop/web-a']);
    // Only kubernetes.io/tls Secrets are watched (fieldSelector type=kubernetes.io/tls).
    assert.deepEqual(h.sink.names('Secret'), ['shop/shop-tls']);
    const ing = h.sink.get('Ingress', 'shop', 'web')!;
    assert.equal(ing.kind, 'Ingress');
    assert.equal(ing.apiVersion, 'networking.k8s.io/v1');
    assert.equal(typeof ing.metadata.creationTimestamp, 'string');
    assert.match(ing.metadata.creationTimestamp!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal((ing.metadata as unknown as Record<string, unknown>).managedFields, undefined);
    assert.equal(Object.getPrototypeOf(ing), Object.prototype, 'a plain object, not a client-node model class');
    assert.equal(Object.getPrototypeOf(ing.metadata), Object.prototype);
    const replaces = h.sink.calls.filter((c) => c.op === 'replace').map((c) => (c as { kind: string }).kind).sort();
    assert.deepEqual(replaces, ['EndpointSlice', 'Ingress', 'IngressClass', 'Secret', 'Service']);
    assert.equal(h.sink.calls.filter((c) => c.op === 'apply').length, 0, 'list replays are not sent again as applies');
    // the secret list call carried the field selector
    const secretLists = h.server.requestLog.filter((e) => e.resource === 'secrets' && e.verb === 'list');
    assert.equal(secretLists.length, 1);
  } finally {
    await h.close();
  }
});

test('watch events: add, modify and delete of each kind reach the sink once, normalized', async () => {
  const h = await harness({ seed: seedBasic });
  try {
    await h.source.synced;
    await h.server.waitForWatchers(5);
    const applies = () => h.sink.calls.filter((c) => c.op === 'apply').length;

    h.server.put(ingress('shop', 'api', { host: 'api.example.com', service: 'web' }));
    await h.sink.waitFor(() => h.sink.get('Ingress', 'shop', 'api') !== undefined, 'ingress added');
    const added = h.sink.get('Ingress', 'shop', 'api')!;
    assert.equal((added.metadata as unknown as Record<string, unknown>).managedFields, undefined, 'watch objects lose managedFields too');
    assert.equal(added.kind, 'Ingress');

    h.server.put(endpointSlice('shop', 'web', 8080, [{ address: '10.0.0.1' }, { address: '10.0.0.2', ready: false }]));
    await h.sink.waitFor(() => (h.sink.get('EndpointSlice', 'shop', 'web-a') as any)?.endpoints?.length === 2, 'slice modified');

    h.server.put(tlsSecret('other', 'other-tls'));
    h.server.put(opaqueSecret('other', 'not-tls'));
    await h.sink.waitFor(() => h.sink.get('Secret', 'other', 'other-tls') !== undefined, 'tls secret added');
    assert.equal(h.sink.get('Secret', 'other', 'not-tls'), undefined);

    h.server.put(service('shop', 'api'));
    h.server.put(ingressClass('other', 'example.com/other'));
    await h.sink.waitFor(() => h.sink.get('Service', 'shop', 'api') !== undefined && h.sink.get('IngressClass', '', 'other') !== undefined, 'svc+class');

    h.server.remove('Ingress', 'shop', 'web');
    h.server.remove('Service', 'shop', 'api');
    h.server.remove('IngressClass', '', 'other');
    h.server.remove('Secret', 'other', 'other-tls');
    h.server.remove('EndpointSlice', 'shop', 'web-a');
    await h.sink.waitFor(() =>
      h.sink.names('Ingress').join() === 'shop/api' && h.sink.names('Service').join() === 'shop/web' &&
      h.sink.names('IngressClass').join() === '/switchyard' && h.sink.names('Secret').join() === 'shop/shop-tls' &&
      h.sink.names('EndpointSlice').length === 0, 'deletes');
    // 1 ingress add + 1 slice update + 1 secret add + svc + class + 5 deletes = 10 applies, no duplicates
    assert.equal(applies(), 10);
  } finally {
    await h.close();
  }
});

test('--watch-namespace with several namespaces: one informer per namespace, others ignored, replace covers all', async () => {
  const h = await harness({
    namespaces: ['a', 'b'],
    seed: (s) => {
      s.put(ingressClass());
      for (const ns of ['a', 'b', 'c']) {
        s.put(service(ns, 'web'));
        s.put(ingress(ns, 'web', { host: `${ns}.example.com`, service: 'web' }));
      }
    },
  });
  try {
    await h.source.synced;
    assert.deepEqual(h.sink.names('Ingress'), ['a/web', 'b/web']);
    assert.deepEqual(h.sink.names('Service'), ['a/web', 'b/web']);
    assert.deepEqual(h.sink.names('IngressClass'), ['/switchyard']);
    const lists = h.server.requestLog.filter((e) => e.verb === 'list');
    assert.ok(lists.every((e) => e.resource === 'ingressclasses' ? e.namespace === '' : e.namespace === 'a' || e.namespace === 'b'),
      'namespaced lists only, cluster-scoped IngressClass list');
    // a relist of namespace a (410) must not wipe namespace b out of the store
    await h.server.waitForWatchers(9);
    h.server.put(ingress('a', 'second', { host: 'a2.example.com', service: 'web' }));
    h.server.compact();
    await h.sink.waitFor(() => h.sink.names('Ingress').join() === 'a/second,a/web,b/web', 'after relist');
    h.server.put(ingress('c', 'late', { host: 'c2.example.com', service: 'web' }));
    h.server.put(ingress('b', 'late', { host: 'b2.example.com', service: 'web' }));
    await h.sink.waitFor(() => h.sink.get('Ingress', 'b', 'late') !== undefined, 'b/late');
    assert.equal(h.sink.get('Ingress', 'c', 'late'), undefined);
  } finally {
    await h.close();
  }
});

test('a forced 410 (compacted history) relists: changes made meanwhile arrive, nothing lost or duplicated', async () => {
  for (const goneAs of ['event', 'http'] as const) {
    const h = await harness({ seed: seedBasic, goneAs });
    try {
      await h.source.synced;
      await h.server.waitForWatchers(5);
      await h.server.stop();
      // While the controller cannot see: one delete, one add, one modify, then history is compacted.
      h.server.remove('Ingress', 'shop', 'web');
      h.server.put(ingress('shop', 'new', { host: 'new.example.com', service: 'web' }));
      h.server.put(service('shop', 'web', 81));
      h.server.compact();
      await h.server.start();
      await h.sink.waitFor(() =>
        h.sink.names('Ingress').join() === 'shop/new' && (h.sink.get('Service', 'shop', 'web') as any)?.spec?.ports?.[0]?.port === 81,
      `state after 410 (${goneAs})`);
      const stats = h.source.stats();
      assert.ok(stats.Ingress.relists >= 1, `Ingress relisted (${goneAs})`);
      await h.server.waitForWatchers(5);
      // After the relist, a change is delivered exactly once.
      const before = h.sink.calls.length;
      h.server.put(ingress('shop', 'after', { host: 'after.example.com', service: 'web' }));
      await h.sink.waitFor(() => h.sink.get('Ingress', 'shop', 'after') !== undefined, 'after');
      assert.equal(h.sink.calls.length - before, 1);
    } finally {
      await h.close();
    }
  }
});

test('an API server restart with history kept resumes watches without a relist', async () => {
  const h = await harness({ seed: seedBasic });
  try {
    await h.source.synced;
    await h.server.waitForWatchers(5);
    await h.server.restart();
    h.server.put(ingress('shop', 'during', { host: 'during.example.com', service: 'web' }));
    await h.sink.waitFor(() => h.sink.get('Ingress', 'shop', 'during') !== undefined, 'event after restart');
    assert.equal(h.source.stats().Ingress.relists, 0);
    assert.deepEqual(h.sink.names('Ingress'), ['shop/during', 'shop/web']);
  } finally {
    await h.close();
  }
});

test('server-side watch close (dropped watches) reconnects and keeps delivering', async () => {
  const h = await harness({ seed: seedBasic });
  try {
    await h.source.synced;
    await h.server.waitForWatchers(5);
    const watchesBefore = h.source.stats().Ingress.watches;
    h.server.dropWatches();
    await h.server.waitForWatchers(5);
    h.server.put(ingress('shop', 'x', { host: 'x.example.com', service: 'web' }));
    await h.sink.waitFor(() => h.sink.get('Ingress', 'shop', 'x') !== undefined, 'after drop');
    h.server.dropWatches(true);
    h.server.put(ingress('shop', 'y', { host: 'y.example.com', service: 'web' }));
    await h.sink.waitFor(() => h.sink.get('Ingress', 'shop', 'y') !== undefined, 'after abrupt drop');
    assert.ok(h.source.stats().Ingress.watches > watchesBefore);
    assert.equal(h.source.stats().Ingress.relists, 0, 'resumed from resourceVersion');
  } finally {
    await h.close();
  }
});

test('failed first lists: synced waits, retries with backoff, then resolves', async () => {
  const server = new KubeApiServer();
  const h = await harness({ server, seed: (s) => { seedBasic(s); s.failNextLists(7); }, start: false });
  try {
    let synced = false;
    void h.source.synced.then(() => { synced = true; });
    h.source.start();
    await server.nextRequest((e) => e.verb === 'list' && e.code === 500);
    assert.equal(synced, false);
    assert.equal(h.source.isSynced, false);
    assert.ok(h.source.pending().length > 0);
    await h.source.synced;
    const stats = h.source.stats();
    const failures = Object.values(stats).reduce((n, s) => n + s.listFailures, 0);
    assert.equal(failures, 7);
    assert.deepEqual(h.source.pending(), []);
    assert.deepEqual(h.sink.names('Ingress'), ['shop/web']);
  } finally {
    await h.close();
  }
});

test('unreachable API server at start: not synced, retried until it comes up', async () => {
  const server = new KubeApiServer();
  await server.start();
  await server.stop(); // port known, nothing listening
  // The harness would start the server: build the source by hand so the server stays down.
  const dir = mkdtempSync(join(tmpdir(), 'swy-kube-'));
  writeFileSync(join(dir, 'kubeconfig'), kubeconfigFor(server));
  const sink = new RecordingSink();
  const source = new KubeSource({
    kubeConfig: loadKubeConfig({ kubeconfig: join(dir, 'kubeconfig') }).kubeConfig, sink, logger: silent,
    backoff: { initialMs: 20, maxMs: 100 },
  });
  try {
    source.start();
    // Every informer fails its list and is restarted (client-node alone would stop here).
    const deadline = Date.now() + 10_000;
    while (!Object.values(source.stats()).every((s) => s.restarts >= 2)) {
      assert.ok(Date.now() < deadline, 'informers restarted');
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(source.isSynced, false);
    assert.ok(Object.values(source.stats()).every((s) => s.lists === 0 && s.listFailures >= 2));
    seedBasic(server);
    await server.start();
    await source.synced;
    assert.deepEqual(sink.names('Ingress'), ['shop/web']);
  } finally {
    await source.stop();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a sink that throws does not stop the informer; the state is repaired by a re-send', async () => {
  const h = await harness({ seed: seedBasic });
  try {
    await h.source.synced;
    await h.server.waitForWatchers(5);
    h.sink.throwNext = 1;
    h.server.put(ingress('shop', 'boom', { host: 'boom.example.com', service: 'web' }));
    await h.sink.waitFor(() => h.sink.get('Ingress', 'shop', 'boom') !== undefined, 'repaired');
    assert.equal(h.source.stats().Ingress.handlerErrors, 1);
    h.server.put(ingress('shop', 'next', { host: 'next.example.com', service: 'web' }));
    await h.sink.waitFor(() => h.sink.get('Ingress', 'shop', 'next') !== undefined, 'still watching');
  } finally {
    await h.close();
  }
});

test('bearer token from the kubeconfig is sent', async () => {
  const h = await harness({ seed: seedBasic, token: 's3cret' });
  try {
    await h.source.synced;
    assert.ok(h.server.requestLog.every((e) => e.code !== 401));
    assert.deepEqual(h.sink.names('Ingress'), ['shop/web']);
  } finally {
    await h.close();
  }
});

test('first list from the watch cache (resourceVersion=0); relists consistent and paginated, expired continue falls back', async () => {
  const h = await harness({
    pageSize: 2,
    seed: (s) => {
      seedBasic(s);
      for (let i = 0; i < 4; i++) s.put(ingress('shop', `more-${i}`, { host: `m${i}.example.com`, service: 'web' }));
    },
  });
  try {
    await h.source.synced;
    const ingressLists = () => h.server.requestLog.filter((e) => e.verb === 'list' && e.resource === 'ingresses');
    assert.deepEqual(ingressLists().map((e) => e.query.resourceVersion), ['0']);
    assert.equal(ingressLists()[0].query.limit, undefined);
    assert.equal(h.sink.names('Ingress').length, 5);
    await h.server.waitForWatchers(5);

    // 410 -> relist: no resourceVersion, pages of 2 (5 Ingresses -> 3 requests).
    h.server.put(ingress('shop', 'more-4', { host: 'm4.example.com', service: 'web' }));
    h.server.remove('Ingress', 'shop', 'more-0');
    h.server.compact();
    await h.sink.waitFor(() => h.source.stats().Ingress.relists === 1, 'relisted');
    const relist = ingressLists().slice(1);
    assert.equal(relist.length, 3);
    assert.ok(relist.every((e) => e.query.resourceVersion === undefined && e.query.limit === '2'));
    assert.equal(relist[0].query.continue, undefined);
    assert.ok(relist[1].query.continue && relist[2].query.continue);
    assert.deepEqual(h.sink.names('Ingress'), ['shop/more-1', 'shop/more-2', 'shop/more-3', 'shop/more-4', 'shop/web']);

    // The continue token expires mid-list (compaction between pages): one unpaginated list instead.
    await h.server.waitForWatchers(5);
    const before = ingressLists().length;
    let compacted = false;
    const off = h.server.onRequest((e) => {
      if (!compacted && e.resource === 'ingresses' && e.verb === 'list' && e.query.limit === '2' && e.query.continue === undefined) {
        compacted = true;
        h.server.compact(false);
      }
    });
    h.server.remove('Ingress', 'shop', 'more-1');
    h.server.compact();
    await h.sink.waitFor(() => h.source.stats().Ingress.relists === 2, 'relisted again');
    off();
    const last = ingressLists().slice(before);
    assert.deepEqual(last.map((e) => [e.code, e.query.limit ?? 'all', e.query.continue === undefined ? '' : 'continue']),
      [[200, '2', ''], [410, '2', 'continue'], [200, 'all', '']]);
    assert.deepEqual(h.sink.names('Ingress'), ['shop/more-2', 'shop/more-3', 'shop/more-4', 'shop/web']);
  } finally {
    await h.close();
  }
});

test('a 403 on the list says RBAC is missing, and is retried', async () => {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const server = new KubeApiServer();
  await server.start();
  server.put(ingressClass());
  server.failNextLists(1, 403);
  const dir = mkdtempSync(join(tmpdir(), 'swy-kube-'));
  writeFileSync(join(dir, 'kubeconfig'), kubeconfigFor(server));
  const sink = new RecordingSink();
  const source = new KubeSource({
    kubeConfig: loadKubeConfig({ kubeconfig: join(dir, 'kubeconfig') }).kubeConfig, sink, logger,
    backoff: { initialMs: 10, maxMs: 50 }, kinds: undefined,
  });
  try {
    source.start();
    await source.synced;
    const warning = lines.find((l) => l.reason === 'WatchFailed');
    assert.ok(warning, 'a warning was logged');
    assert.match(String(warning.msg), /403: RBAC does not grant list\/watch/);
    assert.equal((warning.err as { statusCode?: number }).statusCode, 403);
    assert.deepEqual(sink.names('IngressClass'), ['/switchyard']);
  } finally {
    await source.stop();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('BOOKMARKs keep a quiet watch resumable: after compaction it resumes without a relist', async () => {
  const h = await harness({ seed: seedBasic });
  try {
    await h.source.synced;
    await h.server.waitForWatchers(5);
    const watches = h.server.requestLog.filter((e) => e.verb === 'watch');
    assert.ok(watches.every((e) => e.query.allowWatchBookmarks === 'true' && Number(e.query.timeoutSeconds) >= 300 && Number(e.query.timeoutSeconds) <= 600));
    assert.ok(watches.every((e) => e.query.resourceVersion !== undefined && e.query.resourceVersion !== ''));
    // Other kinds move the resourceVersion on; the Ingress watch sees nothing of it...
    for (let i = 0; i < 5; i++) h.server.put(service('shop', `svc-${i}`));
    await h.sink.waitFor(() => h.sink.names('Service').length === 6, 'services');
    // ...until a BOOKMARK carries the current resourceVersion to it.
    const before = h.source.stats().Ingress.events;
    h.server.bookmark();
    const deadline = Date.now() + 5000;
    while (h.source.stats().Ingress.events === before) {
      assert.ok(Date.now() < deadline, 'bookmark received');
      await new Promise((r) => setTimeout(r, 5));
    }
    h.server.compactToCurrent();
    h.server.dropWatches();
    await h.server.waitForWatchers(5);
    h.server.put(ingress('shop', 'after', { host: 'after.example.com', service: 'web' }));
    await h.sink.waitFor(() => h.sink.get('Ingress', 'shop', 'after') !== undefined, 'event after resume');
    assert.ok(Object.values(h.source.stats()).every((s) => s.relists === 0), 'every kind resumed from its bookmark, no relist');
  } finally {
    await h.close();
  }
});

test('an API server that accepts connections and never answers: lists time out and are retried; stop() is prompt', async () => {
  const { createServer } = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const blackhole = createServer((s) => { sockets.add(s); s.on('error', () => {}); });
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
  const port = (blackhole.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'swy-kube-'));
  writeFileSync(join(dir, 'kubeconfig'), JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'x',
    clusters: [{ name: 'x', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'x', user: {} }], contexts: [{ name: 'x', context: { cluster: 'x', user: 'x' } }],
  }));
  const source = new KubeSource({
    kubeConfig: loadKubeConfig({ kubeconfig: join(dir, 'kubeconfig') }).kubeConfig, sink: new RecordingSink(), logger: silent,
    backoff: { initialMs: 10, maxMs: 20 }, listTimeoutMs: 100,
  });
  try {
    source.start();
    const deadline = Date.now() + 10_000;
    while (!Object.values(source.stats()).every((s) => s.listFailures >= 2)) {
      assert.ok(Date.now() < deadline, 'lists timed out and were retried');
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(source.isSynced, false);
    const t0 = Date.now();
    await source.stop();
    assert.ok(Date.now() - t0 < 1000);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => blackhole.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
});
