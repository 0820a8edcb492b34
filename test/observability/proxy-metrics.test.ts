// Per-request metrics and access log through the real proxy over real sockets: real upstreams that
// answer with their own name, compile() binding the series, the proxy's completion hook recording.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { compile } from '../../src/compile/compile.ts';
import type { RouteTable } from '../../src/compile/route-table.ts';
import type { RouteConfig, Route } from '../../src/model/route-config.ts';
import { RouteRef } from '../../src/runtime/route-ref.ts';
import { createProxyServer } from '../../src/proxy/server.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { AccessLog } from '../../src/observability/access-log.ts';
import { RequestObserver } from '../../src/observability/request-observer.ts';
import { find, one, parseExposition } from './exposition-parser.ts';

async function upstream(name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = `hello from ${name}`;
      res.writeHead(req.url?.includes('missing') ? 404 : 200, { 'content-type': 'text/plain', 'x-upstream': name });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function send(port: number, method: string, host: string, path: string, body?: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { host, 'user-agent': 'swy-test/1' }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function route(name: string, host: string, path: string, service: string, upstreamKey: string | null): Route {
  return {
    name: `ingress/shop/${name}/rule/0/path/0`,
    source: { kind: 'Ingress', namespace: 'shop', name },
    host,
    path,
    pathType: 'Prefix',
    match: 'prefix',
    matchPath: path,
    backend: { service: { namespace: 'shop', name: service, port: 80 }, upstream: upstreamKey },
    canaries: [],
  };
}

function config(webPort: number, apiPort: number, withApi: boolean): RouteConfig {
  const routes = [route('web', 'shop.example.com', '/', 'web', 'shop/web:80')];
  if (withApi) routes.unshift(route('api', 'shop.example.com', '/api', 'api', 'shop/api:80'));
  return {
    virtualHosts: [
      { host: 'shop.example.com', kind: 'exact', routes, defaultBackend: null },
      { host: 'down.example.com', kind: 'exact', routes: [route('down', 'down.example.com', '/', 'down', null)], defaultBackend: null },
    ],
    defaultBackend: null,
    upstreams: [
      { key: 'shop/api:80', namespace: 'shop', service: 'api', servicePort: 80, endpoints: [{ address: '127.0.0.1', port: apiPort, ready: true, serving: true, terminating: false }] },
      { key: 'shop/web:80', namespace: 'shop', service: 'web', servicePort: 80, endpoints: [{ address: '127.0.0.1', port: webPort, ready: true, serving: true, terminating: false }] },
    ],
  };
}

test('real requests through the proxy produce exactly the expected series, labels and access log lines', async () => {
  const web = await upstream('web');
  const api = await upstream('api');
  const dir = mkdtempSync(join(tmpdir(), 'swy-obs-'));
  const logFile = join(dir, 'access.json');
  const metrics = new Metrics({
    enabled: true, statusClass: false, compat: 'ingress-nginx', controllerNamespace: 'ingress', controllerClass: 'switchyard.dev/ingress-controller',
    controllerPod: 'switchyard-0', processMetrics: false,
  });
  const accessLog = new AccessLog({ enabled: true, destination: logFile });
  const observer = new RequestObserver({ metrics: true, unmatched: metrics.routes.unmatched, accessLog });

  const build = (cfg: RouteConfig, previous: RouteTable | null): RouteTable => {
    const binder = metrics.routes.binder();
    const table = compile(cfg, { previous, metrics: binder, random: () => 0 });
    return Object.assign(table, { binder });
  };
  const first = build(config(web.port, api.port, true), null);
  const routeRef = new RouteRef<RouteTable>(first);
  metrics.routes.commit((first as RouteTable & { binder: ReturnType<typeof metrics.routes.binder> }).binder);
  const proxy = createProxyServer({ routeRef, logger: pino({ level: 'silent' }), onComplete: observer.onComplete });
  const { port } = await proxy.listen(0, '127.0.0.1');
  try {
    assert.equal((await send(port, 'GET', 'shop.example.com', '/')).body, 'hello from web');
    assert.equal((await send(port, 'GET', 'shop.example.com', '/cart?x=1')).status, 200);
    assert.equal((await send(port, 'POST', 'shop.example.com', '/api/orders', 'x'.repeat(150))).body, 'hello from api');
    assert.equal((await send(port, 'GET', 'shop.example.com', '/api/missing')).status, 404);
    assert.equal((await send(port, 'PROPFIND', 'shop.example.com', '/')).status, 200);
    assert.equal((await send(port, 'GET', 'down.example.com', '/')).status, 503);
    // Scanners: many unknown hosts, all counted under one bounded series.
    for (let i = 0; i < 20; i++) assert.equal((await send(port, 'GET', `scan-${i}.attacker.example`, `/wp-admin/${i}`)).status, 404);

    const e = parseExposition(await metrics.renderAs('prometheus'));
    const base = { namespace: 'shop', host: 'shop.example.com', canary: '' };
    // Exactly these series (order-independent).
    const key = (l: Record<string, string>) => JSON.stringify(Object.entries(l).sort());
    const expected = new Map([
      [key({ namespace: '', ingress: '', service: '', host: '_', path: '_', canary: '', method: 'GET', status: '404' }), 20],
      [key({ ...base, ingress: 'api', service: 'api', path: '/api', method: 'POST', status: '200' }), 1],
      [key({ ...base, ingress: 'api', service: 'api', path: '/api', method: 'GET', status: '404' }), 1],
      [key({ ...base, ingress: 'web', service: 'web', path: '/', method: 'GET', status: '200' }), 2],
      [key({ ...base, ingress: 'web', service: 'web', path: '/', method: 'OTHER', status: '200' }), 1],
      [key({ namespace: 'shop', ingress: 'down', service: 'down', host: 'down.example.com', path: '/', canary: '', method: 'GET', status: '503' }), 1],
    ]);
    assert.deepEqual(new Map(find(e, 'switchyard_http_requests_total').map((s) => [key(s.labels as Record<string, string>), s.value])), expected);
    assert.ok(!e.samples.some((s) => Object.values(s.labels).some((v) => v.includes('attacker'))), 'raw Host never becomes a label');

    // Histograms: upstream ones only where an upstream answered; sizes are the body bytes.
    const post = { ingress: 'api', method: 'POST', status: '200' };
    assert.equal(one(e, 'switchyard_http_request_size_bytes_sum', post).value, 150);
    assert.equal(one(e, 'switchyard_http_response_size_bytes_sum', post).value, 'hello from api'.length);
    assert.equal(one(e, 'switchyard_upstream_response_duration_seconds_count', post).value, 1);
    assert.equal(one(e, 'switchyard_upstream_connect_duration_seconds_count', post).value, 1);
    const dur = one(e, 'switchyard_http_request_duration_seconds_sum', post).value;
    assert.ok(dur > 0 && dur < 5, `duration ${dur}`);
    assert.equal(find(e, 'switchyard_upstream_response_duration_seconds_count', { ingress: 'down' }).length, 0);
    assert.equal(find(e, 'switchyard_upstream_response_duration_seconds_count', { host: '_' }).length, 0);

    // The compat view: same counts under ingress-nginx names; unmatched requests are not there.
    assert.equal(one(e, 'nginx_ingress_controller_requests', { ingress: 'web', method: 'GET', status: '200' }).value, 2);
    assert.equal(one(e, 'nginx_ingress_controller_requests', { ingress: 'web', method: 'GET' }).labels.controller_pod, 'switchyard-0');
    assert.equal(find(e, 'nginx_ingress_controller_requests', { host: '_' }).length, 0);

    // A swap that removes /api: web's series keep counting, api's vanish.
    const second = build(config(web.port, api.port, false), routeRef.current);
    routeRef.swap(second);
    metrics.routes.commit((second as RouteTable & { binder: ReturnType<typeof metrics.routes.binder> }).binder);
    assert.equal((await send(port, 'GET', 'shop.example.com', '/api/orders')).body, 'hello from web');
    const after = parseExposition(await metrics.renderAs('prometheus'));
    assert.equal(one(after, 'switchyard_http_requests_total', { ingress: 'web', method: 'GET', status: '200' }).value, 3);
    assert.equal(find(after, 'switchyard_http_requests_total', { ingress: 'api' }).length, 0);
  } finally {
    await proxy.close(1000);
    await accessLog.close();
    await new Promise<void>((resolve) => web.server.close(() => resolve()));
    await new Promise<void>((resolve) => api.server.close(() => resolve()));
  }

  // One access log line per request, in order, with route, upstream and timings.
  const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 27);
  const [first_, , postLine, , , down, scan] = lines;
  assert.equal(first_.kind, 'access');
  assert.equal(first_.method, 'GET');
  assert.equal(first_.host, 'shop.example.com');
  assert.equal(first_.path, '/');
  assert.equal(first_.status, 200);
  assert.equal(first_.route, 'ingress/shop/web/rule/0/path/0');
  assert.equal(first_.namespace, 'shop');
  assert.equal(first_.ingress, 'web');
  assert.equal(first_.service, 'web');
  assert.equal(first_.canary, '');
  assert.equal(first_.upstreamAddr, `127.0.0.1:${web.port}`);
  assert.equal(first_.upstreamStatus, 200);
  assert.equal(first_.remoteAddr, '127.0.0.1');
  assert.equal(first_.userAgent, 'swy-test/1');
  assert.equal(first_.bytesOut, 'hello from web'.length);
  assert.ok(first_.requestId.length > 0);
  assert.ok(first_.durationMs >= first_.upstreamResponseMs && first_.upstreamResponseMs >= 0);
  assert.ok(first_.upstreamConnectMs >= 0);
  assert.equal(postLine.bytesIn, 150);
  assert.equal(postLine.method, 'POST');
  assert.equal(down.status, 503);
  assert.equal(down.upstreamAddr, null);
  assert.equal(down.upstreamStatus, null);
  assert.equal(down.upstreamResponseMs, null);
  assert.equal(scan.route, null);
  assert.equal(scan.host, 'scan-0.attacker.example', 'the access log shows what the client sent');
  assert.equal(scan.status, 404);
  assert.ok(scan.bytesOut > 0, 'the proxy\'s own 404 body is counted');
  rmSync(dir, { recursive: true });
});

test('a request served by a canary is counted in the canary series (and the compat canary label)', async () => {
  const main = await upstream('web');
  const canary = await upstream('web-v2');
  const metrics = new Metrics({
    enabled: true, statusClass: false, compat: 'ingress-nginx', controllerNamespace: 'ingress', controllerClass: 'c', controllerPod: 'p', processMetrics: false,
  });
  const dir = mkdtempSync(join(tmpdir(), 'swy-obs-'));
  const logFile = join(dir, 'access.json');
  const accessLog = new AccessLog({ enabled: true, destination: logFile });
  const observer = new RequestObserver({ metrics: true, unmatched: metrics.routes.unmatched, accessLog });
  const web = route('web', 'shop.example.com', '/', 'web', 'shop/web:80');
  const cfg: RouteConfig = {
    virtualHosts: [{
      host: 'shop.example.com', kind: 'exact', defaultBackend: null,
      routes: [{
        ...web,
        canaries: [{
          source: { kind: 'Ingress', namespace: 'shop', name: 'web-canary' },
          name: 'ingress/shop/web-canary/rule/0/path/0',
          backend: { service: { namespace: 'shop', name: 'web-v2', port: 80 }, upstream: 'shop/web-v2:80' },
          header: { name: 'x-canary', match: 'always-never' },
          cookie: null,
          weight: 0,
          weightTotal: 100,
        }],
      }],
    }],
    defaultBackend: null,
    upstreams: [
      { key: 'shop/web-v2:80', namespace: 'shop', service: 'web-v2', servicePort: 80, endpoints: [{ address: '127.0.0.1', port: canary.port, ready: true, serving: true, terminating: false }] },
      { key: 'shop/web:80', namespace: 'shop', service: 'web', servicePort: 80, endpoints: [{ address: '127.0.0.1', port: main.port, ready: true, serving: true, terminating: false }] },
    ],
  };
  const binder = metrics.routes.binder();
  const routeRef = new RouteRef<RouteTable>(compile(cfg, { metrics: binder, random: () => 0, canaryRandom: () => 0.5 }));
  metrics.routes.commit(binder);
  const proxy = createProxyServer({ routeRef, logger: pino({ level: 'silent' }), onComplete: observer.onComplete });
  const { port } = await proxy.listen(0, '127.0.0.1');
  const get = (headers: Record<string, string>) => new Promise<string>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host: 'shop.example.com', ...headers }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end();
  });
  try {
    assert.equal(await get({ 'x-canary': 'always' }), 'hello from web-v2');
    assert.equal(await get({ 'x-canary': 'always' }), 'hello from web-v2');
    assert.equal(await get({}), 'hello from web');
    const e = parseExposition(await metrics.renderAs('prometheus'));
    assert.equal(one(e, 'switchyard_http_requests_total', { ingress: 'web', service: 'web-v2', canary: 'shop/web-canary' }).value, 2);
    assert.equal(one(e, 'switchyard_http_requests_total', { ingress: 'web', service: 'web', canary: '' }).value, 1);
    assert.equal(one(e, 'nginx_ingress_controller_requests', { ingress: 'web', service: 'web', canary: 'shop-web-v2-80' }).value, 2);
    assert.equal(one(e, 'nginx_ingress_controller_requests', { ingress: 'web', service: 'web', canary: '' }).value, 1);
  } finally {
    await proxy.close(1000);
    await accessLog.close();
    await new Promise<void>((resolve) => main.server.close(() => resolve()));
    await new Promise<void>((resolve) => canary.server.close(() => resolve()));
  }
  const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => [l.canary, l.service, l.upstreamAddr]), [
    ['shop/web-canary', 'web-v2', `127.0.0.1:${canary.port}`],
    ['shop/web-canary', 'web-v2', `127.0.0.1:${canary.port}`],
    ['', 'web', `127.0.0.1:${main.port}`],
  ]);
  rmSync(dir, { recursive: true });
});
