// Canary routing end to end over real sockets: Store -> Controller (real translate + compile) ->
// RouteRef -> proxy server -> real upstreams that answer with their own name. Header, cookie and
// weight decisions; editing either Ingress; a weight change 10 -> 50 -> 100 through the atomic swap
// under load with zero failed requests and the observed split matching each phase.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { compile } from '../../src/compile/compile.ts';
import type { RouteTable } from '../../src/compile/route-table.ts';
import type { EndpointSlice, Ingress, KubeObject, Service } from '../../src/model/kube.ts';
import { CONTROLLER_NAME } from '../../src/model/snapshot.ts';
import { createProxyServer, type ProxyServer } from '../../src/proxy/server.ts';
import { Controller } from '../../src/runtime/controller.ts';
import { RouteRef } from '../../src/runtime/route-ref.ts';
import { Store } from '../../src/store/store.ts';
import { translate } from '../../src/translate/translate.ts';
import type { Exchange } from '../../src/proxy/exchange.ts';
import { send, silentLogger, startUpstream, type Upstream } from '../proxy/support.ts';
import { seededRandom, NGINX, OURS } from './helpers.ts';

const HOST = 'shop.example.com';
let stable: Upstream, preview: Upstream, preview2: Upstream;
let store: Store;
let routeRef: RouteRef<RouteTable>;
let controller: Controller<RouteTable>;
let proxy: ProxyServer;
let port: number;
let resourceVersion = 1;
/** Canary label of every completed request, in completion order (the proxy's completion hook). */
const completions: { canary: string; status: number }[] = [];

function service(name: string, upstream: Upstream): KubeObject[] {
  const svc: Service = { kind: 'Service', metadata: { name, namespace: 'shop' }, spec: { ports: [{ name: 'http', port: 80 }] } };
  const slice: EndpointSlice = {
    kind: 'EndpointSlice',
    metadata: { name: `${name}-1`, namespace: 'shop', labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: upstream.port }],
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
  };
  return [svc, slice];
}

function ingress(name: string, serviceName: string, annotations: Record<string, string>, creationTimestamp: string, path = '/'): Ingress {
  return {
    kind: 'Ingress',
    metadata: { name, namespace: 'shop', creationTimestamp, resourceVersion: String(resourceVersion++), annotations },
    spec: {
      ingressClassName: 'switchyard',
      rules: [{ host: HOST, http: { paths: [{ path, pathType: 'Prefix', backend: { service: { name: serviceName, port: { number: 80 } } } }] } }],
    },
  };
}

/**
 * Applies changes to the store and resolves once the controller has rebuilt (a swap, or a build
 * that found the same RouteConfig). Nothing to wait for when the store found no relevant change.
 */
async function change(changes: Parameters<Store['apply']>[0][]): Promise<void> {
  const builds = controller.stats.builds;
  let relevant = false;
  for (const c of changes) relevant = store.apply(c) || relevant;
  if (!relevant) return;
  // The build runs on the scheduler's holdoff timer (2 ms here); check on each turn of the loop.
  while (controller.stats.builds === builds) await new Promise((r) => setTimeout(r, 1));
}

function apply(...objects: KubeObject[]): Promise<void> {
  return change(objects.map((object) => ({ type: 'upsert' as const, object })));
}

function remove(name: string): Promise<void> {
  return change([{ type: 'delete', kind: 'Ingress', namespace: 'shop', name }]);
}

const canaryOn = (extra: Record<string, string>) => ({ [`${NGINX}canary`]: 'true', ...extra });

async function who(headers: Record<string, string> = {}, path = '/'): Promise<string> {
  const reply = await send(port, { host: HOST, path, headers });
  assert.equal(reply.status, 200, reply.body);
  return reply.json().upstream;
}

before(async () => {
  [stable, preview, preview2] = await Promise.all([startUpstream('stable'), startUpstream('preview'), startUpstream('preview2')]);
  store = new Store();
  routeRef = new RouteRef<RouteTable>(compile({ virtualHosts: [], defaultBackend: null, upstreams: [] }));
  const random = seededRandom(2026);
  controller = new Controller<RouteTable>({
    store,
    routeRef,
    translate,
    compile: (config, previous) => compile(config, { previous, canaryRandom: random }),
    translateOptions: { ingressClass: 'switchyard', controllerName: CONTROLLER_NAME, watchIngressWithoutClass: false, defaultBackendService: null },
    logger: silentLogger,
    holdoffMs: 2,
    maxHoldoffMs: 20,
  });
  for (const o of [...service('stable', stable), ...service('preview', preview), ...service('preview2', preview2)]) store.apply({ type: 'upsert', object: o });
  store.apply({ type: 'upsert', object: ingress('web', 'stable', {}, '2026-01-01T00:00:00Z') });
  await controller.start([]);
  await controller.whenReady();
  proxy = createProxyServer({
    routeRef,
    logger: silentLogger,
    onComplete: (e: Exchange) => completions.push({ canary: e.canary?.label ?? '', status: e.status }),
  });
  port = (await proxy.listen(0, '127.0.0.1')).port;
});

after(async () => {
  controller.stop();
  await proxy.close(1000);
  await Promise.all([stable, preview, preview2].map((u) => u.close()));
});

describe('canary over real sockets', () => {
  it('header, cookie and weight decisions reach the right upstream', async () => {
    await apply(ingress('web-canary', 'preview', canaryOn({ [`${NGINX}canary-by-header`]: 'X-Canary', [`${NGINX}canary-by-cookie`]: 'canary' }), '2026-01-02T00:00:00Z'));
    assert.equal(await who(), 'stable');
    assert.equal(await who({ 'X-Canary': 'always' }), 'preview');
    assert.equal(await who({ 'x-canary': 'always' }), 'preview', 'header names are case-insensitive');
    assert.equal(await who({ 'X-Canary': 'never', Cookie: 'canary=always' }), 'stable');
    assert.equal(await who({ Cookie: 'a=b; canary=always' }), 'preview');
    assert.equal(await who({ Cookie: 'canary=never' }), 'stable');
    assert.equal(await who({}, '/deeper/path?q=1'), 'stable');
    assert.equal(await who({ 'X-Canary': 'always' }, '/deeper/path?q=1'), 'preview', 'the canary serves the whole route');

    await apply(ingress('web-canary', 'preview', canaryOn({ [`${OURS}canary-weight`]: '100', [`${NGINX}canary-weight`]: '0' }), '2026-01-02T00:00:00Z'));
    assert.equal(await who(), 'preview', 'switchyard.dev/ weight 100 wins over nginx weight 0');
  });

  it('header value and pattern rules; an invalid pattern keeps requests with the header on main', async () => {
    await apply(ingress('web-canary', 'preview', canaryOn({ [`${NGINX}canary-by-header`]: 'X-Version', [`${NGINX}canary-by-header-value`]: 'v2' }), '2026-01-02T00:00:00Z'));
    assert.equal(await who({ 'X-Version': 'v2' }), 'preview');
    assert.equal(await who({ 'X-Version': 'V2' }), 'stable');
    assert.equal(await who({ 'X-Version': 'always' }), 'stable');
    await apply(ingress('web-canary', 'preview', canaryOn({ [`${NGINX}canary-by-header`]: 'X-User', [`${NGINX}canary-by-header-pattern`]: '^(alice|bob)$' }), '2026-01-02T00:00:00Z'));
    assert.equal(await who({ 'X-User': 'bob' }), 'preview');
    assert.equal(await who({ 'X-User': 'bobby' }), 'stable');
    await apply(
      ingress(
        'web-canary',
        'preview',
        canaryOn({ [`${NGINX}canary-by-header`]: 'X-User', [`${NGINX}canary-by-header-pattern`]: '([', [`${NGINX}canary-weight`]: '100' }),
        '2026-01-02T00:00:00Z',
      ),
    );
    assert.equal(await who({ 'X-User': 'bob' }), 'stable', 'invalid pattern + header present: main, weight not consulted');
    assert.equal(await who(), 'preview', 'header absent: the weight (100) decides');
    assert.ok(controller.diagnostics.some((d) => d.reason === 'InvalidAnnotation' && d.object.name === 'web-canary'));
  });

  it('several canaries: oldest first, each its share; the main backend gets the rest', async () => {
    await apply(
      ingress('web-canary', 'preview', canaryOn({ [`${NGINX}canary-weight`]: '30', [`${NGINX}canary-by-header`]: 'X-A' }), '2026-01-02T00:00:00Z'),
      ingress('web-canary-2', 'preview2', canaryOn({ [`${NGINX}canary-weight`]: '30', [`${NGINX}canary-by-header`]: 'X-B' }), '2026-01-03T00:00:00Z'),
    );
    assert.equal(await who({ 'X-B': 'always' }), 'preview2');
    assert.equal(await who({ 'X-A': 'always', 'X-B': 'always' }), 'preview', 'the older canary is checked first');
    const counts: Record<string, number> = { stable: 0, preview: 0, preview2: 0 };
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    try {
      const replies = await Promise.all(Array.from({ length: 1000 }, () => send(port, { host: HOST, agent })));
      for (const r of replies) counts[r.json().upstream]++;
    } finally {
      agent.destroy();
    }
    assert.ok(Math.abs(counts.preview - 300) <= 50 && Math.abs(counts.preview2 - 300) <= 50 && Math.abs(counts.stable - 400) <= 50, JSON.stringify(counts));
    await remove('web-canary-2');
  });

  it('a canary whose Service is also a main backend elsewhere works', async () => {
    await apply(
      ingress('other', 'preview', {}, '2026-01-01T00:00:00Z', '/other'),
      ingress('web-canary', 'preview', canaryOn({ [`${NGINX}canary-by-header`]: 'X-Canary' }), '2026-01-02T00:00:00Z'),
    );
    assert.equal(await who({}, '/other'), 'preview');
    assert.equal(await who({ 'X-Canary': 'always' }), 'preview');
    assert.equal(await who(), 'stable');
    await remove('other');
  });

  it('editing or deleting either Ingress keeps the pair consistent; creation order does not matter', async () => {
    await apply(ingress('web-canary', 'preview', canaryOn({ [`${NGINX}canary-by-header`]: 'X-Canary' }), '2026-01-02T00:00:00Z'));
    // Main Ingress deleted: the canary serves nothing (404), never creates a route.
    await remove('web');
    assert.equal((await send(port, { host: HOST, headers: { 'X-Canary': 'always' } })).status, 404);
    assert.ok(controller.diagnostics.some((d) => d.reason === 'CanaryWithoutMainRoute'));
    // Main Ingress re-created, newer than the canary: attaches again.
    await apply(ingress('web', 'stable', {}, '2026-02-01T00:00:00Z'));
    assert.equal(await who({ 'X-Canary': 'always' }), 'preview');
    assert.equal(await who(), 'stable');
    // Main Ingress edited (backend changed): still attached.
    await apply(ingress('web', 'preview2', {}, '2026-02-01T00:00:00Z'));
    assert.equal(await who(), 'preview2');
    assert.equal(await who({ 'X-Canary': 'always' }), 'preview');
    await apply(ingress('web', 'stable', {}, '2026-02-01T00:00:00Z'));
  });

  it('the completion hook sees which canary served (metrics and access log label)', async () => {
    await apply(ingress('web-canary', 'preview', canaryOn({ [`${NGINX}canary-by-header`]: 'X-Canary' }), '2026-01-02T00:00:00Z'));
    completions.length = 0;
    await who({ 'X-Canary': 'always' });
    await who();
    assert.deepEqual(completions, [
      { canary: 'shop/web-canary', status: 200 },
      { canary: '', status: 200 },
    ]);
  });

  it('weight 10 -> 50 -> 100 through the atomic swap under load: zero failed requests, split per phase', async (t) => {
    await apply(ingress('web-canary', 'preview', canaryOn({ [`${NGINX}canary-weight`]: '10' }), '2026-01-02T00:00:00Z'));
    const PER_PHASE = 1000;
    const CONCURRENCY = 16;
    const phases = [10, 50, 100];
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    /** Replies per phase, counted only for requests sent after that phase's table was swapped in. */
    const observed = phases.map(() => ({ stable: 0, preview: 0 }));
    let phase = 0;
    let failures = 0;
    let total = 0;
    let stop = false;

    // One keep-alive worker per connection, sending back to back until told to stop.
    const worker = async (): Promise<void> => {
      while (!stop) {
        const sentIn = phase;
        try {
          const reply = await requestOnce(agent);
          total++;
          if (reply.status !== 200 || (reply.upstream !== 'stable' && reply.upstream !== 'preview')) {
            failures++;
            if (failures <= 3) t.diagnostic(`failed: ${JSON.stringify(reply)}`);
          }
          else if (sentIn >= 0) observed[sentIn][reply.upstream as 'stable' | 'preview']++;
        } catch (err) {
          failures++;
          if (failures <= 3) t.diagnostic(`error: ${String(err)}`);
        }
      }
    };
    const workers = Array.from({ length: CONCURRENCY }, worker);
    try {
      for (let i = 0; i < phases.length; i++) {
        if (i > 0) {
          phase = -1; // requests sent while the swap is pending count for no phase
          await apply(ingress('web-canary', 'preview', canaryOn({ [`${NGINX}canary-weight`]: String(phases[i]) }), '2026-01-02T00:00:00Z'));
          phase = i;
        }
        // Bounded: if requests stop succeeding, give up after 30 s and let the assertions say why.
        const deadline = performance.now() + 30_000;
        while (observed[i].stable + observed[i].preview < PER_PHASE && performance.now() < deadline) await new Promise((r) => setImmediate(r));
      }
    } finally {
      stop = true;
      await Promise.all(workers);
      agent.destroy();
    }
    t.diagnostic(`${total} requests, ${failures} failed; per phase (weight: preview/stable): ${phases.map((w, i) => `${w}%: ${observed[i].preview}/${observed[i].stable}`).join(', ')}`);
    assert.equal(failures, 0, `failed requests: ${failures} of ${total}`);
    for (let i = 0; i < phases.length; i++) {
      const { stable: s, preview: p } = observed[i];
      const share = (100 * p) / (s + p);
      // 1,000+ draws: within 5 points of the weight (> 3 standard deviations at 50%).
      assert.ok(Math.abs(share - phases[i]) <= 5, `phase ${phases[i]}%: preview ${p}, stable ${s} (${share.toFixed(1)}%)`);
    }
    assert.equal(observed[2].stable, 0, 'weight 100: every request goes to the canary');
  });
});

/** One GET over the keep-alive agent; resolves with status and the upstream's name. */
function requestOnce(agent: Agent): Promise<{ status: number; upstream: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/', headers: { host: HOST }, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let upstream = '';
        try {
          upstream = (JSON.parse(Buffer.concat(chunks).toString()) as { upstream: string }).upstream;
        } catch {
          upstream = '';
        }
        resolve({ status: res.statusCode ?? 0, upstream });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
