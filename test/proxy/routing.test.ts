import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { routeConfig } from '../compile/config-builder.ts';
import { send, startProxy, startUpstream, type Harness, type Upstream } from './support.ts';

let shop: Upstream, api: Upstream, wild: Upstream, fallback: Upstream;
let h: Harness;

before(async () => {
  [shop, api, wild, fallback] = await Promise.all([startUpstream('shop'), startUpstream('api'), startUpstream('wild'), startUpstream('fallback')]);
  h = await startProxy(
    routeConfig({
      hosts: [
        {
          host: 'shop.example.com',
          routes: [
            { path: '/', upstream: 'default/shop:80' },
            { path: '/api', upstream: 'default/api:80' },
            { path: '/exact', type: 'Exact', upstream: 'default/api:80' },
          ],
        },
        { host: '*.example.com', routes: [{ path: '/', upstream: 'default/wild:80' }] },
        { host: 'nodefault.test', routes: [{ path: '/x', upstream: 'default/shop:80' }] },
        { host: '*', routes: [{ path: '/missing', upstream: null }, { path: '/empty', upstream: 'default/empty:80' }] },
      ],
      upstreams: [
        { key: 'default/shop:80', endpoints: [{ address: '127.0.0.1', port: shop.port }] },
        { key: 'default/api:80', endpoints: [{ address: '127.0.0.1', port: api.port }] },
        { key: 'default/wild:80', endpoints: [{ address: '127.0.0.1', port: wild.port }] },
        { key: 'default/fallback:80', endpoints: [{ address: '127.0.0.1', port: fallback.port }] },
        { key: 'default/empty:80', endpoints: [{ address: '127.0.0.1', port: 1, ready: false, serving: false }] },
      ],
      defaultBackend: 'default/fallback:80',
    }),
  );
});

after(async () => {
  await h.close();
  await Promise.all([shop, api, wild, fallback].map((u) => u.close()));
});

test('routes by host and path to the upstream that answers with its name', async () => {
  const cases: [string, string, string][] = [
    ['shop.example.com', '/', 'shop'],
    ['shop.example.com', '/cart', 'shop'],
    ['shop.example.com', '/api', 'api'],
    ['shop.example.com', '/api/v1?x=1', 'api'],
    ['shop.example.com', '/apix', 'shop'],
    ['SHOP.example.com:8080', '/api/', 'api'],
    ['shop.example.com', '/exact', 'api'],
    ['shop.example.com', '/exact/', 'shop'],
    ['a.example.com', '/api', 'wild'],
    ['a.b.example.com', '/', 'fallback'],
    ['nodefault.test', '/y', 'fallback'],
    ['unknown.test', '/', 'fallback'],
  ];
  for (const [host, path, upstream] of cases) {
    const reply = await send(h.port, { host, path });
    assert.equal(reply.status, 200, `${host}${path}`);
    assert.equal(reply.json().upstream, upstream, `${host}${path}`);
  }
});

test('forwards the normalized path with the original query', async () => {
  const reply = await send(h.port, { host: 'shop.example.com', path: '/x/../api//v1/./%7Eme?q=/../a&b=%2e' });
  assert.equal(reply.json().upstream, 'api');
  assert.equal(reply.json().url, '/api/v1/~me?q=/../a&b=%2e');
  // What is matched is what is forwarded: ../ cannot escape into another route.
  const escape = await send(h.port, { host: 'shop.example.com', path: '/api/%2e%2e/cart' });
  assert.equal(escape.json().upstream, 'shop');
  assert.equal(escape.json().url, '/cart');
});

test('absolute-form target routes on its authority', async () => {
  const reply = await send(h.port, { host: 'ignored.test', path: 'http://shop.example.com/api/x?y' });
  assert.equal(reply.json().upstream, 'api');
  assert.equal(reply.json().url, '/api/x?y');
});

test('errors: 400 bad path, 503 unresolved backend, 503 no ready endpoint, 404 no route', async () => {
  const bad = await send(h.port, { host: 'shop.example.com', path: '/../etc/passwd' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body, 'Bad Request: invalid request path\n');
  assert.match(String(bad.headers['content-type']), /^text\/plain/);

  const missing = await send(h.port, { host: 'x.test', path: '/missing' });
  assert.equal(missing.status, 503);
  assert.equal(missing.body, 'Service Unavailable: backend not found\n');

  const empty = await send(h.port, { host: 'x.test', path: '/empty/a' });
  assert.equal(empty.status, 503);
  assert.equal(empty.body, 'Service Unavailable: no ready endpoint\n');
  assert.ok(empty.headers['x-request-id']);
});

test('404 when nothing matches and there is no default backend', async () => {
  const up = await startUpstream('only');
  const h2 = await startProxy(
    routeConfig({
      hosts: [{ host: 'a.test', routes: [{ path: '/a', upstream: 'default/only:80' }] }],
      upstreams: [{ key: 'default/only:80', endpoints: [{ address: '127.0.0.1', port: up.port }] }],
    }),
  );
  try {
    const miss = await send(h2.port, { host: 'a.test', path: '/b' });
    assert.equal(miss.status, 404);
    assert.equal(miss.body, 'Not Found: no route for this host and path\n');
    assert.equal((await send(h2.port, { host: 'a.test', path: '/a' })).json().upstream, 'only');
  } finally {
    await h2.close();
    await up.close();
  }
});
