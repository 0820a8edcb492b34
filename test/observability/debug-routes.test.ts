import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../src/compile/compile.ts';
import { describeTable, matchRequest } from '../../src/observability/debug-routes.ts';
import type { Route, RouteConfig } from '../../src/model/route-config.ts';

function route(ns: string, name: string, host: string, path: string, match: 'exact' | 'prefix', service: string, upstream: string | null): Route {
  return {
    name: `ingress/${ns}/${name}/rule/0/path/0`,
    source: { kind: 'Ingress', namespace: ns, name },
    host,
    path,
    pathType: match === 'exact' ? 'Exact' : 'Prefix',
    match,
    matchPath: path,
    backend: { service: { namespace: ns, name: service, port: 80 }, upstream },
    canaries: [],
  };
}

const CONFIG: RouteConfig = {
  virtualHosts: [
    {
      host: 'shop.example.com',
      kind: 'exact',
      routes: [
        route('shop', 'api', 'shop.example.com', '/api', 'prefix', 'api', 'shop/api:80'),
        route('shop', 'gone', 'shop.example.com', '/gone', 'exact', 'gone', null),
        route('shop', 'web', 'shop.example.com', '/', 'prefix', 'web', 'shop/web:80'),
      ],
      defaultBackend: null,
    },
  ],
  defaultBackend: null,
  upstreams: [
    { key: 'shop/api:80', namespace: 'shop', service: 'api', servicePort: 80, endpoints: [{ address: '10.0.0.1', port: 8080, ready: false, serving: false, terminating: true }] },
    {
      key: 'shop/web:80', namespace: 'shop', service: 'web', servicePort: 80,
      endpoints: [
        { address: '10.0.0.2', port: 8080, ready: true, serving: true, terminating: false },
        { address: 'fd00::3', port: 8080, ready: true, serving: true, terminating: false },
      ],
    },
  ],
};

test('/debug/routes describes the live table: generation, hosts, routes, backends, endpoints', () => {
  const table = compile(CONFIG, { generation: 4 });
  const doc = JSON.parse(JSON.stringify(describeTable(table, 9)));
  assert.equal(doc.generation, 4);
  assert.equal(doc.version, 9);
  assert.deepEqual(doc.virtualHosts.map((v: { host: string }) => v.host), ['shop.example.com']);
  assert.deepEqual(doc.virtualHosts[0].routes.map((r: { path: string }) => r.path), ['/api', '/gone', '/']);
  assert.deepEqual(doc.virtualHosts[0].routes[0].backend, { service: 'shop/api:80', upstream: 'shop/api:80' });
  assert.deepEqual(doc.virtualHosts[0].routes[1].backend, { service: 'shop/gone:80', upstream: null });
  const web = doc.upstreams.find((u: { key: string }) => u.key === 'shop/web:80');
  assert.deepEqual(web.candidates, ['10.0.0.2:8080', '[fd00::3]:8080']);
  assert.equal(web.endpoints.length, 2);
});

test('/debug/match answers with the real matcher: route, endpoint set and what the proxy would answer', () => {
  const table = compile(CONFIG, { generation: 1 });
  const q = (s: string) => new URLSearchParams(s);
  const web = matchRequest(table, 1, q('host=SHOP.example.com:8080&path=/cart/../checkout?x=1'));
  assert.equal(web.status, 200);
  const body = web.body as Record<string, any>;
  assert.equal(body.request.normalizedPath, '/checkout');
  assert.deepEqual(body.virtualHost, { host: 'shop.example.com', kind: 'exact' });
  assert.equal(body.route.name, 'ingress/shop/web/rule/0/path/0');
  assert.equal(body.status, 200);
  assert.deepEqual(body.upstream.candidates, ['10.0.0.2:8080', '[fd00::3]:8080']);
  assert.equal(body.canary, null);

  const api = matchRequest(table, 1, q('host=shop.example.com&path=/api/v1')).body as Record<string, any>;
  assert.equal(api.route.path, '/api');
  assert.equal(api.status, 503, 'no ready endpoint');
  assert.match(api.reason, /no ready endpoint/);

  const gone = matchRequest(table, 1, q('host=shop.example.com&path=/gone')).body as Record<string, any>;
  assert.equal(gone.status, 503);
  assert.equal(gone.upstream, null);

  const none = matchRequest(table, 1, q('host=other.example.com&path=/')).body as Record<string, any>;
  assert.equal(none.route, null);
  assert.equal(none.status, 404);

  const bad = matchRequest(table, 1, q('host=shop.example.com&path=/../etc')).body as Record<string, any>;
  assert.equal(bad.status, 400);

  assert.equal(matchRequest(table, 1, q('path=/')).status, 400, 'host is required');
  assert.equal(matchRequest(table, 1, q('host=a&header=nocolon')).status, 400);
});

test('/debug/match runs the compiled canary rule: header and cookie decisions, endpoint set of the canary', () => {
  const base = CONFIG.virtualHosts[0].routes[2];
  const config: RouteConfig = {
    ...CONFIG,
    virtualHosts: [{
      ...CONFIG.virtualHosts[0],
      routes: [{
        ...base,
        canaries: [{
          source: { kind: 'Ingress', namespace: 'shop', name: 'web-canary' },
          name: 'ingress/shop/web-canary/rule/0/path/0',
          backend: { service: { namespace: 'shop', name: 'api', port: 80 }, upstream: 'shop/api:80' },
          header: { name: 'x-canary', match: 'value', value: 'yes' },
          cookie: 'canary',
          weight: 0,
          weightTotal: 100,
        }],
      }],
    }],
    upstreams: CONFIG.upstreams.map((u) => u.key === 'shop/api:80' ? { ...u, endpoints: [{ ...u.endpoints[0], ready: true, serving: true, terminating: false }] } : u),
  };
  const table = compile(config, { generation: 2, canaryRandom: () => 0.5 });
  const q = (s: string) => matchRequest(table, 1, new URLSearchParams(s)).body as Record<string, any>;
  const byHeader = q('host=shop.example.com&path=/&header=X-Canary: yes');
  assert.equal(byHeader.canary.decision, 'shop/web-canary');
  assert.deepEqual(byHeader.backend, { service: 'shop/api:80', upstream: 'shop/api:80' });
  assert.deepEqual(byHeader.upstream.candidates, ['10.0.0.1:8080']);
  assert.equal(q('host=shop.example.com&path=/&header=X-Canary: no').canary.decision, 'main');
  assert.equal(q('host=shop.example.com&path=/&cookie=canary=always').canary.decision, 'shop/web-canary');
  assert.equal(q('host=shop.example.com&path=/&cookie=canary=never&cookie=other=1').canary.decision, 'main');
  const main = q('host=shop.example.com&path=/x');
  assert.equal(main.canary.decision, 'main');
  assert.deepEqual(main.upstream.candidates, ['10.0.0.2:8080', '[fd00::3]:8080']);
  // /debug/routes lists the canary with its rules.
  const doc = JSON.parse(JSON.stringify(describeTable(table, 1)));
  assert.equal(doc.virtualHosts[0].routes[0].canaries[0].source, 'shop/web-canary');
  assert.deepEqual(doc.virtualHosts[0].routes[0].canaries[0].header, { name: 'x-canary', match: 'value', value: 'yes' });
});
