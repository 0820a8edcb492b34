// The admin API over real sockets: /metrics (Prometheus text, OpenMetrics on request) and the
// /debug views, wired by Observability onto the real AdminServer, following real table swaps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import { compile } from '../../src/compile/compile.ts';
import type { RouteTable } from '../../src/compile/route-table.ts';
import type { RouteConfig, Route } from '../../src/model/route-config.ts';
import { RouteRef } from '../../src/runtime/route-ref.ts';
import { AdminServer } from '../../src/observability/admin-server.ts';
import { createObservability } from '../../src/observability/observability.ts';
import type { KubeKind } from '../../src/model/kube.ts';
import { one, parseExposition } from './exposition-parser.ts';

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; encoding: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const encoding = String(res.headers['content-encoding'] ?? '');
        const body = (encoding === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), encoding, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function route(name: string, host: string, path: string): Route {
  return {
    name: `ingress/shop/${name}/rule/0/path/0`, source: { kind: 'Ingress', namespace: 'shop', name }, host, path, pathType: 'Prefix',
    match: 'prefix', matchPath: path, backend: { service: { namespace: 'shop', name, port: 80 }, upstream: `shop/${name}:80` }, canaries: [],
  };
}

function config(names: string[]): RouteConfig {
  return {
    virtualHosts: [{ host: 'shop.example.com', kind: 'exact', routes: names.map((n) => route(n, 'shop.example.com', `/${n}`)), defaultBackend: null }],
    defaultBackend: null,
    upstreams: names.sort().map((n) => ({ key: `shop/${n}:80`, namespace: 'shop', service: n, servicePort: 80, endpoints: [{ address: '10.1.0.1', port: 8080, ready: true, serving: true, terminating: false }] })),
  };
}

/** A minimal controller stand-in that publishes like the real one (swap, then onPublish listeners). */
class FakeController extends EventEmitter {
  stats = { failures: 0 };
  lastError: unknown = null;
  onPublish(listener: (p: { generation: number; durationMs: number; diagnostics: []; changeToSwapMs: number | null; table: RouteTable }) => void): () => void {
    this.on('publish', listener);
    return () => this.off('publish', listener);
  }
}

test('/metrics negotiates OpenMetrics, /debug/routes and /debug/match follow a table swap', async () => {
  const logger = pino({ level: 'silent' });
  const obs = createObservability({
    enableMetrics: true, metricsCompat: 'ingress-nginx', metricsStatusClass: false, accessLog: false, accessLogPath: null,
    podName: 'sw-0', podNamespace: 'ingress', controllerClass: 'switchyard.dev/ingress-controller', electionId: 'switchyard-leader',
  }, logger, { processMetrics: false });
  const routeRef = new RouteRef<RouteTable>(compile(config([]), { generation: 0 }));
  const controller = new FakeController();
  const counts: Record<KubeKind, number> = { Ingress: 1, IngressClass: 1, Service: 1, EndpointSlice: 1, Secret: 0 };
  const admin = new AdminServer({ logger });
  obs.attach({ controller, store: { counts: () => counts }, routeRef, admin });
  const { port } = await admin.listen(0, '127.0.0.1');
  const publish = (names: string[]) => {
    const table = obs.bind((metrics) => compile(config(names), { previous: routeRef.current, metrics }));
    routeRef.swap(table);
    controller.emit('publish', { generation: table.generation, durationMs: 1.5, diagnostics: [], changeToSwapMs: 30, table });
  };
  try {
    publish(['web']);
    // A request served by the web route (recorded directly: the proxy path is covered elsewhere).
    routeRef.current.find('shop.example.com', '/web')!.metrics!.main.record('GET', 200, 0, 10, 0.01, 0, 0.009);

    const text = await get(port, '/metrics');
    assert.equal(text.status, 200);
    assert.equal(text.type, 'text/plain; version=0.0.4; charset=utf-8');
    const e = parseExposition(text.body);
    assert.equal(one(e, 'switchyard_http_requests_total', { ingress: 'web' }).value, 1);
    assert.equal(one(e, 'switchyard_route_table_generation').value, routeRef.current.generation);
    assert.equal(one(e, 'switchyard_objects_watched', { kind: 'Ingress' }).value, 1);
    assert.equal(one(e, 'nginx_ingress_controller_requests', { ingress: 'web' }).labels.controller_pod, 'sw-0');

    const om = await get(port, '/metrics', { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1', 'accept-encoding': 'gzip' });
    assert.equal(om.type, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    assert.equal(om.encoding, 'gzip');
    assert.ok(om.body.endsWith('# EOF\n'));
    assert.equal(parseExposition(om.body).types.get('switchyard_http_requests'), 'counter');

    let routes = JSON.parse((await get(port, '/debug/routes')).body);
    const g1 = routes.generation;
    assert.deepEqual(routes.virtualHosts[0].routes.map((r: { path: string }) => r.path), ['/web']);
    let match = JSON.parse((await get(port, '/debug/match?host=shop.example.com&path=/api/x')).body);
    assert.equal(match.route, null);
    assert.equal(match.status, 404);

    // Swap: /api appears, /web goes away.
    publish(['api']);
    routes = JSON.parse((await get(port, '/debug/routes')).body);
    assert.equal(routes.generation, g1 + 1);
    assert.deepEqual(routes.virtualHosts[0].routes.map((r: { path: string }) => r.path), ['/api']);
    match = JSON.parse((await get(port, '/debug/match?host=shop.example.com&path=/api/x')).body);
    assert.equal(match.route.name, 'ingress/shop/api/rule/0/path/0');
    assert.equal(match.generation, g1 + 1);
    assert.equal(match.status, 200);
    assert.equal((await get(port, '/debug/match?path=/')).status, 400);

    // The removed route's series are gone; the swap counters moved.
    const after = parseExposition((await get(port, '/metrics')).body);
    assert.equal(after.samples.filter((s) => s.name === 'switchyard_http_requests_total').length, 0);
    assert.equal(one(after, 'switchyard_route_table_swaps_total').value, 2);
    assert.equal(one(after, 'switchyard_change_to_swap_duration_seconds_count').value, 2);
  } finally {
    await admin.close();
    await obs.close();
  }
});
