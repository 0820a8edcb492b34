// The whole controller in Kubernetes mode (startSwitchyard with --source kubernetes) against the
// in-repo API server: real informers through a real kubeconfig file, the real store, controller,
// proxy and admin server, real upstreams answering with their own name. Assertions are HTTP
// requests through the proxy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeApiServer, kubeconfigFor } from '../support/kube-api-server.ts';
import type { RequestLogEntry } from '../support/kube-api-server.ts';
import { startSwitchyard } from '../../src/main.ts';
import type { Switchyard } from '../../src/main.ts';
import { parseConfig } from '../../src/config.ts';
import type { Config } from '../../src/config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { API_PERMISSIONS } from '../../src/sources/kube/permissions.ts';
import { StatusReporter } from '../../src/status/status-reporter.ts';
import { endpointSlice, ingress, ingressClass, service, tlsSecret } from './fixtures.ts';

/** Every API request any controller made in this file, for the RBAC check at the end. */
const allRequests: RequestLogEntry[] = [];

interface Upstream {
  readonly name: string;
  readonly port: number;
  readonly server: Server;
}

async function upstream(name: string): Promise<Upstream> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(name);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { name, port: (server.address() as { port: number }).port, server };
}

function get(port: number, host: string, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Harness {
  readonly api: KubeApiServer;
  readonly a: Upstream;
  readonly b: Upstream;
  readonly kubeconfig: string;
  start(extra?: string[]): Promise<Switchyard>;
  /** GET through the proxy of the first started controller. */
  get(host: string, path?: string): Promise<{ status: number; body: string }>;
  readyz(app?: Switchyard): Promise<number>;
  /** Resolves when `check` passes, re-checking after every table swap (no sleeping). */
  until(check: () => Promise<boolean>, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

async function harness(seed?: (api: KubeApiServer, a: Upstream, b: Upstream) => void): Promise<Harness> {
  const api = new KubeApiServer();
  await api.start();
  api.onRequest((e) => allRequests.push(e));
  const a = await upstream('a');
  const b = await upstream('b');
  seed?.(api, a, b);
  const dir = mkdtempSync(join(tmpdir(), 'swy-e2e-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigFor(api));
  const apps: Switchyard[] = [];
  const h: Harness = {
    api, a, b, kubeconfig,
    async start(extra = []) {
      const outcome = parseConfig([
        '--source', 'kubernetes', '--kubeconfig', kubeconfig,
        '--http-port', '0', '--https-port', '0', '--admin-port', '0', '--bind-address', '127.0.0.1', '--admin-bind-address', '127.0.0.1',
        '--sync-holdoff', '5ms', '--sync-max-holdoff', '50ms', '--pod-namespace', 'ingress', '--log-level', 'silent', '--access-log', 'false',
        ...extra,
      ], {});
      assert.equal(outcome.kind, 'run');
      const config = (outcome as { config: Config }).config;
      const app = await startSwitchyard(config, createLogger({ level: 'silent' }));
      apps.push(app);
      return app;
    },
    get: (host, path) => get(apps[0].httpAddress.port, host, path),
    async readyz(app = apps[0]) {
      return (await get(app.adminAddress.port, 'admin', '/readyz')).status;
    },
    async until(check, what, timeoutMs = 10_000) {
      const app = apps[0];
      const deadline = Date.now() + timeoutMs;
      while (!(await check())) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out: ${what}`);
        // Wait for the next swap, but re-check at least every 100ms: some conditions (an
        // unchanged table, an API server write) do not swap.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, Math.min(left, 100));
          const off = app.routeRef.onSwap(done);
          function done() {
            clearTimeout(timer);
            off();
            resolve();
          }
        });
      }
    },
    async close() {
      for (const app of apps.reverse()) await app.close(0);
      await api.close();
      for (const u of [a, b]) await new Promise((r) => u.server.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

function seedShop(api: KubeApiServer, a: Upstream): void {
  api.put(ingressClass());
  api.put(service('shop', 'web', 80, a.port));
  api.put(endpointSlice('shop', 'web', a.port, [{ address: '127.0.0.1' }]));
  api.put(ingress('shop', 'web', { host: 'shop.example.com', service: 'web', port: 80 }));
}

const body = (h: Harness, host: string, path = '/') => async (expected: string | number) => {
  const r = await h.get(host, path);
  return typeof expected === 'number' ? r.status === expected : r.status === 200 && r.body === expected;
};

test('readiness stays 503 and nothing is published until every informer has listed', async () => {
  const h = await harness((api, a) => {
    seedShop(api, a);
    api.failNextLists(5);
  });
  try {
    const app = await h.start();
    assert.equal(await h.readyz(), 503);
    assert.equal(app.routeRef.version, 0, 'no table published before sync');
    assert.equal((await h.get('shop.example.com')).status, 404);
    await app.controller.whenReady();
    assert.equal(await h.readyz(), 200);
    assert.deepEqual(await h.get('shop.example.com'), { status: 200, body: 'a' });
    assert.equal(h.api.requestLog.filter((e) => e.verb === 'list' && e.code === 500).length, 5);
  } finally {
    await h.close();
  }
});

test('add, modify and delete of Ingress, Service, EndpointSlice and IngressClass change routing', async () => {
  const h = await harness((api, a) => seedShop(api, a));
  try {
    const app = await h.start();
    await app.controller.whenReady();
    const shop = body(h, 'shop.example.com');
    assert.ok(await shop('a'));

    // Ingress: add a host, point it at another Service, delete it.
    h.api.put(service('shop', 'api', 80, h.b.port));
    h.api.put(endpointSlice('shop', 'api', h.b.port, [{ address: '127.0.0.1' }]));
    h.api.put(ingress('shop', 'api', { host: 'api.example.com', service: 'api', port: 80 }));
    const api = body(h, 'api.example.com');
    await h.until(() => api('b'), 'new Ingress served');
    h.api.put(ingress('shop', 'api', { host: 'api.example.com', service: 'web', port: 80 }));
    await h.until(() => api('a'), 'modified Ingress served');
    h.api.remove('Ingress', 'shop', 'api');
    await h.until(() => api(404), 'deleted Ingress gone');

    // Service: delete -> 503 (backend unresolved), re-add -> served again.
    h.api.remove('Service', 'shop', 'web');
    await h.until(() => shop(503), 'Service deleted: 503');
    h.api.put(service('shop', 'web', 80, h.a.port));
    await h.until(() => shop('a'), 'Service back');

    // EndpointSlice: a second slice adds upstream b to the rotation; b going not-ready leaves it;
    // deleting every slice leaves no endpoint (503).
    h.api.put(endpointSlice('shop', 'web', h.b.port, [{ address: '127.0.0.1' }], 'b'));
    const seen = async (n: number) => {
      const names = new Set<string>();
      for (let i = 0; i < n; i++) names.add((await h.get('shop.example.com')).body);
      return [...names].sort().join(',');
    };
    await h.until(async () => (await seen(4)) === 'a,b', 'both endpoints in rotation');
    h.api.put(endpointSlice('shop', 'web', h.b.port, [{ address: '127.0.0.1', ready: false }], 'b'));
    await h.until(async () => (await seen(6)) === 'a', 'not-ready endpoint out of rotation');
    h.api.remove('EndpointSlice', 'shop', 'web-a');
    h.api.remove('EndpointSlice', 'shop', 'web-b');
    await h.until(() => shop(503), 'no endpoints: 503');
    h.api.put(endpointSlice('shop', 'web', h.a.port, [{ address: '127.0.0.1' }]));
    await h.until(() => shop('a'), 'endpoints back');

    // IngressClass: an Ingress of class "custom" is ours only while IngressClass custom names our controller.
    h.api.put(ingressClass('custom'));
    h.api.put(ingress('shop', 'custom', { host: 'custom.example.com', service: 'web', port: 80, className: 'custom' }));
    const custom = body(h, 'custom.example.com');
    await h.until(() => custom('a'), 'class custom is ours');
    h.api.put(ingressClass('custom', 'example.com/someone-else'));
    await h.until(() => custom(404), 'class custom handed to another controller');
    h.api.remove('IngressClass', '', 'custom');
    h.api.put(ingressClass('custom'));
    await h.until(() => custom('a'), 'class custom ours again');

    // Secret: kubernetes.io/tls Secrets reach the store (the TLS listener reads them there).
    h.api.put(tlsSecret('shop', 'shop-tls'));
    await h.until(async () => app.store.get('Secret', 'shop', 'shop-tls') !== undefined, 'TLS Secret in the store');
    h.api.remove('Secret', 'shop', 'shop-tls');
    await h.until(async () => app.store.get('Secret', 'shop', 'shop-tls') === undefined, 'TLS Secret removed');
  } finally {
    await h.close();
  }
});

test('a forced 410 and an API server restart are survived with the right final table', async () => {
  const h = await harness((api, a) => {
    seedShop(api, a);
    api.put(ingress('shop', 'old', { host: 'old.example.com', service: 'web', port: 80 }));
  });
  try {
    const app = await h.start();
    await app.controller.whenReady();
    assert.ok(await body(h, 'old.example.com')('a'));

    // 1. Compaction while connected: every watch gets ERROR 410 and relists.
    h.api.put(ingress('shop', 'during', { host: 'during.example.com', service: 'web', port: 80 }));
    h.api.compact();
    await h.until(() => body(h, 'during.example.com')('a'), 'served after 410 relist');

    // 2. API server down; meanwhile objects change and history is compacted; then it comes back.
    await h.api.stop();
    h.api.remove('Ingress', 'shop', 'old');
    h.api.put(ingress('shop', 'new', { host: 'new.example.com', service: 'web', port: 80 }));
    h.api.put(endpointSlice('shop', 'web', h.b.port, [{ address: '127.0.0.1' }]));
    h.api.put(service('shop', 'web', 80, h.b.port));
    h.api.compact();
    // The last good table keeps serving while the API server is unreachable.
    assert.ok(await body(h, 'old.example.com')('a'));
    await h.api.start();
    await h.until(() => body(h, 'new.example.com')('b'), 'new Ingress after restart');
    await h.until(() => body(h, 'old.example.com')(404), 'deleted Ingress gone after restart');
    assert.ok(await body(h, 'shop.example.com')('b'));
    assert.ok(await body(h, 'during.example.com')('b'));
    // Nothing duplicated or lost: the store holds exactly what the API server holds.
    const names = app.store.snapshot().ingresses.map((i) => `${i.metadata.namespace}/${i.metadata.name}`);
    assert.deepEqual(names, ['shop/during', 'shop/new', 'shop/web']);

    // 3. Watches dropped by the server are re-opened.
    h.api.dropWatches();
    h.api.put(ingress('shop', 'later', { host: 'later.example.com', service: 'web', port: 80 }));
    await h.until(() => body(h, 'later.example.com')('b'), 'served after dropped watches');
  } finally {
    await h.close();
  }
});

test('API server unreachable: the last good table keeps serving, and changes resume when it is back', async () => {
  const h = await harness((api, a) => seedShop(api, a));
  try {
    const app = await h.start();
    await app.controller.whenReady();
    await h.api.waitForWatchers(5);
    const version = app.routeRef.version;
    await h.api.stop();
    for (let i = 0; i < 20; i++) assert.deepEqual(await h.get('shop.example.com'), { status: 200, body: 'a' });
    assert.equal(await h.readyz(), 200, 'still ready: serving the last good table');
    assert.equal(app.routeRef.version, version, 'no table swapped while the API server is gone');
    await h.api.start();
    h.api.put(ingress('shop', 'back', { host: 'back.example.com', service: 'web', port: 80 }));
    await h.until(() => body(h, 'back.example.com')('a'), 'changes flow again');
  } finally {
    await h.close();
  }
});

test('status is written once by the leader, not by the follower; Events for diagnostics', async () => {
  const h = await harness((api, a) => {
    seedShop(api, a);
    api.put(ingress('shop', 'web2', { host: 'two.example.com', service: 'web', port: 80 }));
    api.put(ingressClass('nginx', 'k8s.io/ingress-nginx'));
    api.put(ingress('shop', 'theirs', { host: 'theirs.example.com', service: 'web', port: 80, className: 'nginx' }));
  });
  try {
    const flags = ['--publish-status-address', '192.0.2.10,lb.example.com', '--election-id', 'e2e-leader'];
    const one = await h.start([...flags, '--pod-name', 'one']);
    await one.controller.whenReady();
    const reporterOf = (app: Switchyard) => app.sources.find((s): s is StatusReporter => s instanceof StatusReporter)!;
    await h.until(async () => reporterOf(one).elector.isLeader, 'first replica leads');
    const two = await h.start([...flags, '--pod-name', 'two']);
    await two.controller.whenReady();
    const lb = (name: string) => h.api.get('Ingress', 'shop', name)?.status?.loadBalancer?.ingress;
    const expected = [{ ip: '192.0.2.10' }, { hostname: 'lb.example.com' }];
    await h.until(async () => JSON.stringify(lb('web')) === JSON.stringify(expected) && JSON.stringify(lb('web2')) === JSON.stringify(expected), 'status written');
    assert.equal(lb('theirs'), undefined, 'not our class: untouched');
    // The second replica serves traffic too, but does not lead and writes nothing.
    assert.deepEqual(await get(two.httpAddress.port, 'shop.example.com'), { status: 200, body: 'a' });
    assert.equal(reporterOf(two).elector.isLeader, false);
    await reporterOf(one).statusWriter!.whenIdle();
    const puts = () => h.api.requestLog.filter((e) => e.verb === 'update' && e.resource === 'ingresses/status').length;
    assert.equal(puts(), 2, 'one status write per owned Ingress');
    assert.equal(reporterOf(two).statusWriter!.stats.updates, 0);

    // A diagnostic becomes one Warning Event on the Ingress (written by the leader only).
    h.api.put(ingress('shop', 'broken', { host: 'broken.example.com', service: 'missing', port: 80 }));
    await h.until(async () => h.api.list('Event').some((e) => e.involvedObject.name === 'broken'), 'Event for a diagnostic');
    await reporterOf(one).events.flush();
    await reporterOf(two).events.flush();
    assert.equal(h.api.list('Event').filter((e) => e.involvedObject.name === 'broken').length, 1);
    assert.equal(reporterOf(two).events.stats.created, 0);
    // Fixed, then broken again: the same Event's count goes up (PATCH).
    h.api.put(ingress('shop', 'broken', { host: 'broken.example.com', service: 'web', port: 80 }));
    await h.until(() => body(h, 'broken.example.com')('a'), 'fixed');
    h.api.put(ingress('shop', 'broken', { host: 'broken.example.com', service: 'missing', port: 80 }));
    await h.until(async () => h.api.list('Event').some((e) => e.involvedObject.name === 'broken' && e.count === 2), 'Event count bumped');

    // The leader shuts down and releases the Lease: the follower takes over at once (no waiting
    // for expiry). The status it finds is already right, so it writes nothing.
    await h.until(async () => JSON.stringify(lb('broken')) === JSON.stringify(expected), 'status of the new Ingress');
    await reporterOf(one).statusWriter!.whenIdle();
    const before = puts();
    assert.equal(before, 3);
    await one.close(0);
    await h.until(async () => reporterOf(two).elector.isLeader, 'follower takes over', 10_000);
    await reporterOf(two).statusWriter!.whenIdle();
    await reporterOf(two).statusWriter!.sync();
    assert.equal(puts(), before, 'the new leader finds the status right and writes nothing');
    assert.equal(h.api.get('Lease', 'ingress', 'e2e-leader')!.spec.holderIdentity, reporterOf(two).elector.identity);
    // It does write when something differs: a new owned Ingress.
    h.api.put(ingress('shop', 'web3', { host: 'three.example.com', service: 'web', port: 80 }));
    await h.until(async () => JSON.stringify(lb('web3')) === JSON.stringify(expected), 'new leader writes status');
  } finally {
    await h.close();
  }
});

test('--kube-api-timeout bounds the status writes of a controller whose API server stops answering them', async () => {
  const h = await harness((api, a) => seedShop(api, a));
  try {
    h.api.stall((e) => e.resource === 'ingresses/status');
    const t0 = Date.now();
    const app = await h.start(['--publish-status-address', '192.0.2.10', '--election-id', 'e2e-timeout', '--kube-api-timeout', '200ms']);
    await app.controller.whenReady();
    const writer = app.sources.find((s): s is StatusReporter => s instanceof StatusReporter)!.statusWriter!;
    await h.until(async () => writer.stats.failures >= 1, 'the stalled status write timed out');
    // The default deadline is 10 s: a failure this early comes from the flag.
    assert.ok(Date.now() - t0 < 5000, `failed at the flag's deadline (${Date.now() - t0}ms)`);
    assert.equal(writer.stats.updates, 0);
    assert.deepEqual(await h.get('shop.example.com'), { status: 200, body: 'a' }, 'routing is not held up by the API server');
    h.api.unstall();
    writer.trigger();
    await h.until(async () => JSON.stringify(h.api.get('Ingress', 'shop', 'web')?.status?.loadBalancer?.ingress) === '[{"ip":"192.0.2.10"}]', 'written once the API server answers');
  } finally {
    await h.close();
  }
});

test('--publish-service: the Service load-balancer address goes to Ingress status', async () => {
  const h = await harness((api, a) => {
    seedShop(api, a);
    const svc = service('ingress', 'switchyard', 80);
    svc.spec.type = 'LoadBalancer';
    svc.status = { loadBalancer: { ingress: [{ ip: '198.51.100.7' }] } };
    api.put(svc);
  });
  try {
    const app = await h.start(['--publish-service', 'ingress/switchyard', '--watch-namespace', 'shop']);
    await app.controller.whenReady();
    await h.until(async () => h.api.get('Ingress', 'shop', 'web')?.status?.loadBalancer?.ingress?.[0]?.ip === '198.51.100.7', 'status from the Service');
    // --watch-namespace shop: the informers list in "shop" only; the publish Service in "ingress"
    // is read with GET.
    assert.ok(h.api.requestLog.some((e) => e.verb === 'get' && e.resource === 'services' && e.namespace === 'ingress'));
    assert.ok(h.api.requestLog.filter((e) => e.verb === 'list' && e.resource !== 'ingressclasses').every((e) => e.namespace === 'shop'));
  } finally {
    await h.close();
  }
});

test('every API call the controller made is in permissions.ts, and every permission was used', () => {
  // Every (verb, resource) the controller sent is granted by permissions.ts, and every permission
  // in the table was exercised by these tests (so the table is neither short nor padded).
  const granted = new Set(API_PERMISSIONS.flatMap((p) => p.verbs.map((v) => `${v} ${p.apiGroup}/${p.resource}`)));
  const used = new Set(allRequests.map((e) => `${e.verb} ${e.apiGroup}/${e.resource}`));
  const notGranted = [...used].filter((u) => !granted.has(u));
  assert.deepEqual(notGranted, [], `requests outside permissions.ts: ${notGranted.join(', ')}`);
  const unused = [...granted].filter((g) => !used.has(g));
  assert.deepEqual(unused, [], `permissions.ts grants verbs the controller never used: ${unused.join(', ')}`);
  // Lease calls stay in the controller's namespace (a Role, not a ClusterRole).
  const namespaced = new Set(API_PERMISSIONS.filter((p) => p.scope === 'namespace').map((p) => `${p.apiGroup}/${p.resource}`));
  for (const e of allRequests) {
    if (namespaced.has(`${e.apiGroup}/${e.resource}`)) assert.equal(e.namespace, 'ingress', `${e.verb} ${e.resource} outside --pod-namespace`);
  }
});
