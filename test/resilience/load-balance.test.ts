// load-balance / upstream-hash-by / affinity over real sockets, with the canary interplay of
// affinity-canary-behavior (sticky: pinned clients stay on their side; legacy: independent).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CanaryBackend, RouteBalance, RouteConfig } from '../../src/model/route-config.ts';
import { routeConfig } from '../compile/config-builder.ts';
import { canaryBackend } from '../canary/helpers.ts';
import { echo, send, startUpstream, type Upstream } from '../proxy/support.ts';
import { startBalancedProxy } from './support.ts';

const HOST = 'shop.test';

function withBalance(config: RouteConfig, balance: RouteBalance | undefined, canaries: CanaryBackend[] = []): RouteConfig {
  return {
    ...config,
    virtualHosts: config.virtualHosts.map((vh) => ({
      ...vh,
      routes: vh.routes.map((r) => ({ ...r, canaries, ...(balance !== undefined ? { balance } : {}) })),
    })),
  };
}

function upstreamConfig(groups: Record<string, Upstream[]>, mainKey: string): RouteConfig {
  return routeConfig({
    hosts: [{ host: HOST, routes: [{ path: '/', upstream: mainKey }] }],
    upstreams: Object.entries(groups).map(([key, ups]) => ({ key, endpoints: ups.map((u) => ({ address: '127.0.0.1', port: u.port })) })),
  });
}

async function startAll(names: string[], handler?: (req: IncomingMessage, res: ServerResponse, name: string) => void): Promise<Upstream[]> {
  return Promise.all(names.map((n) => startUpstream(n, handler)));
}

test('upstream-hash-by $http_x_user: one user always reaches the same endpoint; users spread', async (t) => {
  const ups = await startAll(['a', 'b', 'c']);
  const h = await startBalancedProxy(withBalance(upstreamConfig({ 'shop/web:80': ups }, 'shop/web:80'), { policy: 'round_robin', hashBy: '$http_x_user' }));
  t.after(async () => {
    await h.close();
    await Promise.all(ups.map((u) => u.close()));
  });
  const seen = new Set<string>();
  for (let user = 0; user < 30; user++) {
    const served = new Set<string>();
    for (let i = 0; i < 3; i++) served.add(String((await send(h.port, { host: HOST, headers: { 'x-user': `user-${user}` } })).headers['x-upstream']));
    assert.equal(served.size, 1, `user-${user} stuck to one endpoint`);
    seen.add([...served][0]);
  }
  assert.equal(seen.size, 3, 'the 30 users spread over all endpoints');
});

test('load-balance ewma: a slow endpoint gets far fewer requests than a fast one', async (t) => {
  const ups = await startAll(['fast', 'slow'], (req, res, name) => {
    if (name === 'slow') setTimeout(() => echo(req, res, name), 40);
    else echo(req, res, name);
  });
  const h = await startBalancedProxy(withBalance(upstreamConfig({ 'shop/web:80': ups }, 'shop/web:80'), { policy: 'ewma' }));
  t.after(async () => {
    await h.close();
    await Promise.all(ups.map((u) => u.close()));
  });
  const counts: Record<string, number> = {};
  // 4 concurrent clients, 60 requests each.
  await Promise.all(
    [0, 1, 2, 3].map(async () => {
      for (let i = 0; i < 60; i++) {
        const name = String((await send(h.port, { host: HOST })).headers['x-upstream']);
        counts[name] = (counts[name] ?? 0) + 1;
      }
    }),
  );
  assert.ok((counts.fast ?? 0) > 5 * (counts.slow ?? 0), `fast ${counts.fast}, slow ${counts.slow}`);
  assert.ok((counts.slow ?? 0) >= 1, 'the slow endpoint is still sampled');
});

test('affinity cookie: the first response sets it, later requests stick; a stale cookie is re-balanced', async (t) => {
  const ups = await startAll(['a', 'b', 'c']);
  const config = upstreamConfig({ 'shop/web:80': ups }, 'shop/web:80');
  const balance: RouteBalance = { policy: 'round_robin', affinity: { cookieName: 'route', maxAgeSeconds: 3600, path: null, canaryBehavior: 'sticky' } };
  const h = await startBalancedProxy(withBalance(config, balance));
  t.after(async () => {
    await h.close();
    await Promise.all(ups.map((u) => u.close()));
  });
  const first = await send(h.port, { host: HOST });
  const setCookie = String(first.headers['set-cookie']);
  assert.match(setCookie, /^route=[0-9a-f]{16}; Path=\/; Max-Age=3600; HttpOnly$/);
  const cookie = setCookie.split(';')[0];
  const pinnedTo = first.headers['x-upstream'];
  for (let i = 0; i < 6; i++) {
    const r = await send(h.port, { host: HOST, headers: { cookie: `other=1; ${cookie}` } });
    assert.equal(r.headers['x-upstream'], pinnedTo);
    assert.equal(r.headers['set-cookie'], undefined, 'no new cookie while pinned');
  }
  // Without the cookie, round robin goes on.
  const others = new Set<string>();
  for (let i = 0; i < 3; i++) others.add(String((await send(h.port, { host: HOST })).headers['x-upstream']));
  assert.equal(others.size, 3);
  // The pinned endpoint leaves: the request is balanced elsewhere and gets a new cookie.
  const remaining = ups.filter((u) => u.name !== pinnedTo);
  h.swap(withBalance(upstreamConfig({ 'shop/web:80': remaining }, 'shop/web:80'), balance));
  const moved = await send(h.port, { host: HOST, headers: { cookie } });
  assert.notEqual(moved.headers['x-upstream'], pinnedTo);
  assert.match(String(moved.headers['set-cookie']), /^route=[0-9a-f]{16};/);
});

async function canarySetup(t: import('node:test').TestContext, behavior: 'sticky' | 'legacy') {
  const [main, canary] = [await startAll(['main-1', 'main-2']), await startAll(['canary-1'])];
  let draw = 0.999;
  const affinity = { cookieName: 'INGRESSCOOKIE', maxAgeSeconds: null, path: null, canaryBehavior: behavior };
  const canaryBalance: RouteBalance = { policy: 'round_robin', affinity };
  const base = upstreamConfig({ 'default/main:80': main, 'default/canary:80': canary }, 'default/main:80');
  const canaries = [{ ...canaryBackend('canary', { weight: 50 }), balance: canaryBalance }];
  const config = withBalance(base, { policy: 'round_robin', affinity: { ...affinity, canaryBehavior: 'sticky' } }, canaries);
  const h = await startBalancedProxy(config, {}, { canaryRandom: () => draw });
  t.after(async () => {
    await h.close();
    await Promise.all([...main, ...canary].map((u) => u.close()));
  });
  const get = async (random: number, cookie?: string) => {
    draw = random;
    const r = await send(h.port, { host: HOST, headers: cookie !== undefined ? { cookie } : {} });
    return { upstream: String(r.headers['x-upstream']), cookie: r.headers['set-cookie'] === undefined ? undefined : String(r.headers['set-cookie']).split(';')[0] };
  };
  return { get };
}

test('affinity + canary (sticky): pinned to the canary stays on it, pinned to main skips the canary rules', async (t) => {
  const { get } = await canarySetup(t, 'sticky');
  // A new client drawn to the canary gets the canary's cookie...
  const toCanary = await get(0.1);
  assert.equal(toCanary.upstream, 'canary-1');
  assert.ok(toCanary.cookie !== undefined, 'the canary sets the affinity cookie');
  // ...and stays on the canary even when the draw says main.
  for (const r of [0.9, 0.99, 0.6]) assert.equal((await get(r, toCanary.cookie)).upstream, 'canary-1');
  // A new client drawn to main gets main's cookie and never sees the canary, whatever the draw.
  const toMain = await get(0.9);
  assert.match(toMain.upstream, /^main-/);
  assert.ok(toMain.cookie !== undefined);
  for (const r of [0.1, 0.0, 0.3]) assert.equal((await get(r, toMain.cookie)).upstream, toMain.upstream);
});

test('affinity + canary (legacy): the canary sets no cookie; main-pinned clients still follow the canary rules', async (t) => {
  const { get } = await canarySetup(t, 'legacy');
  const toCanary = await get(0.1);
  assert.equal(toCanary.upstream, 'canary-1');
  assert.equal(toCanary.cookie, undefined, 'legacy: no cookie from the canary');
  const toMain = await get(0.9);
  assert.ok(toMain.cookie !== undefined);
  // Pinned to main, but the weighted draw still sends it to the canary.
  assert.equal((await get(0.1, toMain.cookie)).upstream, 'canary-1');
  assert.equal((await get(0.9, toMain.cookie)).upstream, toMain.upstream);
});
