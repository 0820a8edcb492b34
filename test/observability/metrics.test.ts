import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../../src/observability/metrics.ts';
import type { MetricsOptions } from '../../src/observability/metrics.ts';
import { negotiateFormat } from '../../src/observability/exposition.ts';
import { NATIVE_SIZE_BUCKETS, NATIVE_TIME_BUCKETS, NGINX_LENGTH_BUCKETS, NGINX_TIME_BUCKETS, methodIndex } from '../../src/observability/route-metrics.ts';
import type { Route, RouteConfig, CanaryBackend } from '../../src/model/route-config.ts';
import { find, one, parseExposition } from './exposition-parser.ts';

const OPTIONS: MetricsOptions = {
  enabled: true,
  statusClass: false,
  compat: 'none',
  controllerNamespace: 'ingress',
  controllerClass: 'switchyard.dev/ingress-controller',
  controllerPod: 'switchyard-abc',
  processMetrics: false,
};

function route(ns: string, name: string, host: string, path: string, service: string): Route {
  return {
    name: `ingress/${ns}/${name}/rule/0/path/0`,
    source: { kind: 'Ingress', namespace: ns, name },
    host,
    path,
    pathType: 'Prefix',
    match: 'prefix',
    matchPath: path,
    backend: { service: { namespace: ns, name: service, port: 80 }, upstream: `${ns}/${service}:80` },
    canaries: [],
  };
}

const SHOP = route('shop', 'web', 'shop.example.com', '/', 'web');
const API = route('shop', 'api', 'shop.example.com', '/api', 'api');
const CANARY: CanaryBackend = {
  source: { kind: 'Ingress', namespace: 'shop', name: 'web-canary' },
  name: 'ingress/shop/web-canary/rule/0/path/0',
  backend: { service: { namespace: 'shop', name: 'web-v2', port: 8080 }, upstream: 'shop/web-v2:8080' },
  header: null,
  cookie: null,
  weight: 10,
  weightTotal: 100,
};

const ROUTE_LABELS = { namespace: 'shop', ingress: 'web', service: 'web', host: 'shop.example.com', path: '/', canary: '' };

test('a recorded request appears as exactly one series per family, labelled by the route', async () => {
  const metrics = new Metrics(OPTIONS);
  const binder = metrics.routes.binder();
  const web = binder.bindRouteMetrics(SHOP);
  metrics.routes.commit(binder);
  web.main.record('GET', 200, 120, 5000, 0.003, 0.0005, 0.002);
  web.main.record('GET', 200, 80, 50, 0.02, 0, 0.015);
  web.main.record('POST', 201, 2000, 10, 0.2, 0.001, 0.19);
  const e = parseExposition(await metrics.renderAs('prometheus'));

  assert.equal(e.types.get('switchyard_http_requests_total'), 'counter');
  const totals = find(e, 'switchyard_http_requests_total');
  assert.deepEqual(totals.map((s) => [s.labels, s.value]), [
    [{ ...ROUTE_LABELS, method: 'GET', status: '200' }, 2],
    [{ ...ROUTE_LABELS, method: 'POST', status: '201' }, 1],
  ]);
  // Request duration histogram: native buckets, cumulative, +Inf, sum and count.
  const get = { ...ROUTE_LABELS, method: 'GET', status: '200' };
  const buckets = find(e, 'switchyard_http_request_duration_seconds_bucket', get);
  assert.deepEqual(buckets.map((b) => b.labels.le), [...NATIVE_TIME_BUCKETS.map(String), '+Inf']);
  const le = (v: string) => one(e, 'switchyard_http_request_duration_seconds_bucket', { ...get, le: v }).value;
  assert.equal(le('0.001'), 0);
  assert.equal(le('0.0025'), 0);
  assert.equal(le('0.005'), 1);
  assert.equal(le('0.01'), 1);
  assert.equal(le('0.025'), 2);
  assert.equal(le('+Inf'), 2);
  assert.equal(one(e, 'switchyard_http_request_duration_seconds_count', get).value, 2);
  assert.ok(Math.abs(one(e, 'switchyard_http_request_duration_seconds_sum', get).value - 0.023) < 1e-12);
  // The other histograms, same labels.
  for (const name of ['switchyard_upstream_response_duration_seconds', 'switchyard_upstream_connect_duration_seconds', 'switchyard_http_request_size_bytes', 'switchyard_http_response_size_bytes']) {
    assert.equal(e.types.get(name), 'histogram', name);
    assert.equal(one(e, `${name}_count`, get).value, 2, name);
  }
  const size = find(e, 'switchyard_http_response_size_bytes_bucket', get);
  assert.deepEqual(size.map((b) => b.labels.le), [...NATIVE_SIZE_BUCKETS.map(String), '+Inf']);
  assert.equal(one(e, 'switchyard_http_response_size_bytes_bucket', { ...get, le: '100' }).value, 1);
  assert.equal(one(e, 'switchyard_http_response_size_bytes_bucket', { ...get, le: '10000' }).value, 2);
  assert.equal(one(e, 'switchyard_http_response_size_bytes_sum', get).value, 5050);
});

test('requests that reached no upstream skip the upstream histograms', async () => {
  const metrics = new Metrics(OPTIONS);
  metrics.routes.unmatched.record('GET', 404, 70, 20, 0.0001, -1, -1);
  const e = parseExposition(await metrics.renderAs('prometheus'));
  const unmatched = { namespace: '', ingress: '', service: '', host: '_', path: '_', canary: '', method: 'GET', status: '404' };
  assert.equal(one(e, 'switchyard_http_requests_total', unmatched).value, 1);
  assert.equal(one(e, 'switchyard_http_request_duration_seconds_count', unmatched).value, 1);
  assert.equal(find(e, 'switchyard_upstream_response_duration_seconds_count').length, 0);
  assert.equal(find(e, 'switchyard_upstream_connect_duration_seconds_count').length, 0);
});

test('methods are a bounded set: anything else is OTHER', async () => {
  assert.equal(methodIndex('GET'), 0);
  assert.equal(methodIndex('PROPFIND'), 9);
  const metrics = new Metrics(OPTIONS);
  for (const m of ['PROPFIND', 'MKCOL', 'PURGE', 'get']) metrics.routes.unmatched.record(m, 404, 1, 1, 0, -1, -1);
  const e = parseExposition(await metrics.renderAs('prometheus'));
  const totals = find(e, 'switchyard_http_requests_total');
  assert.equal(totals.length, 1);
  assert.equal(totals[0].labels.method, 'OTHER');
  assert.equal(totals[0].value, 4);
});

test('--metrics-status-class labels status with the class', async () => {
  const metrics = new Metrics({ ...OPTIONS, statusClass: true });
  for (const status of [200, 204, 301, 404, 503, 502]) metrics.routes.unmatched.record('GET', status, 1, 1, 0, -1, -1);
  const e = parseExposition(await metrics.renderAs('prometheus'));
  const totals = find(e, 'switchyard_http_requests_total');
  assert.deepEqual(totals.map((s) => [s.labels.status, s.value]), [['2xx', 2], ['3xx', 1], ['4xx', 1], ['5xx', 2]]);
});

test('series survive a swap for unchanged routes and vanish for removed ones', async () => {
  const metrics = new Metrics(OPTIONS);
  const b1 = metrics.routes.binder();
  const web1 = b1.bindRouteMetrics(SHOP);
  const api1 = b1.bindRouteMetrics(API);
  metrics.routes.commit(b1);
  web1.main.record('GET', 200, 1, 1, 0.001, 0, 0.001);
  api1.main.record('GET', 200, 1, 1, 0.001, 0, 0.001);

  // Next table: SHOP unchanged (a new Route object with equal labels), API removed.
  const b2 = metrics.routes.binder();
  const web2 = b2.bindRouteMetrics({ ...SHOP });
  assert.equal(web2.main, web1.main, 'same series object for the same labels');
  metrics.routes.commit(b2);
  web2.main.record('GET', 200, 1, 1, 0.001, 0, 0.001);

  const e = parseExposition(await metrics.renderAs('prometheus'));
  assert.equal(one(e, 'switchyard_http_requests_total', { ingress: 'web' }).value, 2);
  assert.equal(find(e, 'switchyard_http_requests_total', { ingress: 'api' }).length, 0);
});

test('an uncommitted build does not change the live series', async () => {
  const metrics = new Metrics(OPTIONS);
  const b1 = metrics.routes.binder();
  b1.bindRouteMetrics(SHOP).main.record('GET', 200, 1, 1, 0, 0, 0);
  metrics.routes.commit(b1);
  const failed = metrics.routes.binder();
  failed.bindRouteMetrics(API);
  // never committed (the build failed before the swap)
  const e = parseExposition(await metrics.renderAs('prometheus'));
  assert.equal(find(e, 'switchyard_http_requests_total', { ingress: 'web' }).length, 1);
  assert.equal(metrics.routes.size, 2);
});

test('canary series: native service is the canary Service, canary label the canary Ingress', async () => {
  const metrics = new Metrics({ ...OPTIONS, compat: 'ingress-nginx' });
  const binder = metrics.routes.binder();
  const target = { ...CANARY, label: 'shop/web-canary' };
  const rm = binder.bindRouteMetrics(SHOP, [target]);
  metrics.routes.commit(binder);
  assert.equal(rm.forCanary(null), rm.main);
  assert.equal(rm.forCanary(target), rm.canaries[0]);
  assert.equal(rm.forCanary({}), rm.main);
  rm.forCanary(target).record('GET', 200, 1, 1, 0.001, 0, 0.001);
  rm.forCanary(null).record('GET', 200, 1, 1, 0.001, 0, 0.001);
  const e = parseExposition(await metrics.renderAs('prometheus'));
  assert.equal(one(e, 'switchyard_http_requests_total', { canary: 'shop/web-canary', service: 'web-v2' }).value, 1);
  assert.equal(one(e, 'switchyard_http_requests_total', { canary: '', service: 'web' }).value, 1);
  // ingress-nginx: service stays the main one, canary is the alternative upstream name.
  assert.equal(one(e, 'nginx_ingress_controller_requests', { canary: 'shop-web-v2-8080', service: 'web' }).value, 1);
  assert.equal(one(e, 'nginx_ingress_controller_requests', { canary: '', service: 'web' }).value, 1);
});

test('--metrics-compat ingress-nginx renders ingress-nginx names, labels and default buckets from the same data', async () => {
  const metrics = new Metrics({ ...OPTIONS, compat: 'ingress-nginx' });
  const binder = metrics.routes.binder();
  const web = binder.bindRouteMetrics(SHOP);
  metrics.routes.commit(binder);
  web.main.record('GET', 200, 15, 95, 0.007, 0.0002, 0.006);
  web.main.record('GET', 200, 35, 5000, 3, 0.0002, 2.9);
  metrics.routes.unmatched.record('GET', 404, 10, 10, 0.0001, -1, -1);
  const e = parseExposition(await metrics.renderAs('prometheus'));

  const labels = {
    canary: '', controller_class: 'switchyard.dev/ingress-controller', controller_namespace: 'ingress', controller_pod: 'switchyard-abc',
    host: 'shop.example.com', ingress: 'web', method: 'GET', namespace: 'shop', path: '/', service: 'web', status: '200',
  };
  assert.equal(e.types.get('nginx_ingress_controller_requests'), 'counter');
  const requests = find(e, 'nginx_ingress_controller_requests');
  assert.equal(requests.length, 1, 'unmatched requests are not rendered in the compat view');
  assert.deepEqual(requests[0].labels, labels);
  assert.equal(requests[0].value, 2);

  const time = ['nginx_ingress_controller_request_duration_seconds', 'nginx_ingress_controller_response_duration_seconds', 'nginx_ingress_controller_connect_duration_seconds'];
  for (const name of time) {
    assert.equal(e.types.get(name), 'histogram', name);
    assert.deepEqual(find(e, `${name}_bucket`).map((b) => b.labels.le), [...NGINX_TIME_BUCKETS.map(String), '+Inf'], name);
    assert.deepEqual(one(e, `${name}_count`).labels, labels);
    assert.equal(one(e, `${name}_count`).value, 2);
  }
  for (const name of ['nginx_ingress_controller_request_size', 'nginx_ingress_controller_response_size']) {
    assert.equal(e.types.get(name), 'histogram', name);
    assert.deepEqual(find(e, `${name}_bucket`).map((b) => b.labels.le), [...NGINX_LENGTH_BUCKETS.map(String), '+Inf'], name);
  }
  assert.equal(one(e, 'nginx_ingress_controller_request_duration_seconds_bucket', { le: '0.005' }).value, 0);
  assert.equal(one(e, 'nginx_ingress_controller_request_duration_seconds_bucket', { le: '0.01' }).value, 1);
  assert.equal(one(e, 'nginx_ingress_controller_request_duration_seconds_bucket', { le: '2.5' }).value, 1);
  assert.equal(one(e, 'nginx_ingress_controller_request_duration_seconds_bucket', { le: '5' }).value, 2);
  assert.equal(one(e, 'nginx_ingress_controller_request_size_bucket', { le: '20' }).value, 1);
  assert.equal(one(e, 'nginx_ingress_controller_request_size_bucket', { le: '40' }).value, 2);
  assert.equal(one(e, 'nginx_ingress_controller_response_size_bucket', { le: '100' }).value, 1);
  assert.equal(one(e, 'nginx_ingress_controller_response_size_bucket', { le: '+Inf' }).value, 2);
  assert.equal(one(e, 'nginx_ingress_controller_response_size_sum').value, 5095);
  // The native families are still there, from the same accumulators.
  assert.equal(one(e, 'switchyard_http_requests_total', { ingress: 'web' }).value, 2);
  // Controller metrics dashboards use.
  assert.equal(one(e, 'nginx_ingress_controller_config_last_reload_successful').value, 1);
  assert.equal(one(e, 'nginx_ingress_controller_leader_election_status').labels.name, 'switchyard-leader');
});

test('OpenMetrics: negotiated from Accept, counters without _total in the family name, # EOF, canonical le', async () => {
  assert.equal(negotiateFormat(undefined), 'prometheus');
  assert.equal(negotiateFormat('text/plain'), 'prometheus');
  assert.equal(negotiateFormat('*/*'), 'prometheus');
  assert.equal(negotiateFormat('application/openmetrics-text'), 'openmetrics');
  // What Prometheus sends by default.
  assert.equal(negotiateFormat('application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'), 'openmetrics');
  assert.equal(negotiateFormat('text/plain;q=1,application/openmetrics-text;q=0.5'), 'prometheus');

  const metrics = new Metrics({ ...OPTIONS, compat: 'ingress-nginx', processMetrics: true });
  const binder = metrics.routes.binder();
  binder.bindRouteMetrics(SHOP).main.record('GET', 200, 1, 1, 0.5, 0, 0.4);
  metrics.routes.commit(binder);
  const rendered = await metrics.render('application/openmetrics-text;version=1.0.0');
  assert.equal(rendered.contentType, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
  assert.ok(rendered.body.endsWith('# EOF\n'));
  const e = parseExposition(rendered.body);
  assert.equal(e.types.get('switchyard_http_requests'), 'counter');
  assert.equal(e.types.has('switchyard_http_requests_total'), false);
  assert.equal(one(e, 'switchyard_http_requests_total').value, 1);
  assert.equal(e.types.get('switchyard_route_table_swaps'), 'counter');
  assert.equal(one(e, 'switchyard_route_table_swaps_total').value, 0);
  // Compat counters keep their exact sample names (typed unknown, so no _total is added).
  assert.equal(e.types.get('nginx_ingress_controller_requests'), 'unknown');
  assert.equal(one(e, 'nginx_ingress_controller_requests').value, 1);
  const les = find(e, 'switchyard_http_request_duration_seconds_bucket').map((b) => b.labels.le);
  assert.ok(les.includes('1.0') && les.includes('0.5') && les.includes('+Inf'), les.join(' '));
  // Default process metrics are there; each family is declared once.
  assert.ok(e.types.has('process_cpu_user_seconds'));
  assert.ok(find(e, 'process_cpu_user_seconds_total').length === 1);

  // Rendering OpenMetrics does not change the Prometheus rendering afterwards.
  const text = await metrics.render('text/plain');
  assert.equal(text.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  const t = parseExposition(text.body);
  assert.equal(t.types.get('switchyard_http_requests_total'), 'counter');
  assert.equal(t.types.get('process_cpu_user_seconds_total'), 'counter');
  assert.ok(!text.body.includes('# EOF'));
});

test('--enable-metrics=false: record() does nothing', async () => {
  const metrics = new Metrics({ ...OPTIONS, enabled: false });
  const binder = metrics.routes.binder();
  binder.bindRouteMetrics(SHOP).main.record('GET', 200, 1, 1, 0.5, 0, 0.4);
  metrics.routes.commit(binder);
  metrics.routes.unmatched.record('GET', 404, 1, 1, 0, -1, -1);
  const e = parseExposition(await metrics.renderAs('prometheus'));
  assert.equal(find(e, 'switchyard_http_requests_total').length, 0);
});

test('controller metrics: swaps, generation, build and change-to-swap durations, invalid objects, orphans', async () => {
  const metrics = new Metrics(OPTIONS);
  const orphanNoService: Route = { ...API, name: 'ingress/shop/api/rule/0/path/1', path: '/x', backend: { service: { namespace: 'shop', name: 'gone', port: 80 }, upstream: null } };
  const config: RouteConfig = {
    virtualHosts: [{ host: 'shop.example.com', kind: 'exact', routes: [API, orphanNoService, SHOP], defaultBackend: null }],
    defaultBackend: null,
    upstreams: [
      { key: 'shop/api:80', namespace: 'shop', service: 'api', servicePort: 80, endpoints: [{ address: '10.0.0.1', port: 80, ready: false, serving: false, terminating: true }] },
      { key: 'shop/web:80', namespace: 'shop', service: 'web', servicePort: 80, endpoints: [{ address: '10.0.0.2', port: 80, ready: true, serving: true, terminating: false }] },
    ],
  };
  const diagnostics = [
    { severity: 'error' as const, object: { kind: 'Ingress' as const, namespace: 'shop', name: 'bad' }, reason: 'InvalidPath', message: 'x' },
    { severity: 'error' as const, object: { kind: 'Ingress' as const, namespace: 'shop', name: 'bad' }, reason: 'InvalidPath', message: 'y' },
    { severity: 'error' as const, object: { kind: 'Ingress' as const, namespace: 'shop', name: 'worse' }, reason: 'InvalidPath', message: 'z' },
    { severity: 'error' as const, object: { kind: 'Ingress' as const, namespace: 'shop', name: 'api' }, reason: 'ServiceNotFound', message: 'w' },
    { severity: 'warning' as const, object: { kind: 'Ingress' as const, namespace: 'shop', name: 'api' }, reason: 'RouteConflict', message: 'v' },
  ];
  metrics.recordSwap({ generation: 7, buildSeconds: 0.004, changeToSwapSeconds: 0.03, result: { config, diagnostics } });
  metrics.recordBuildFailure();
  metrics.observeStore({ counts: () => ({ Ingress: 1, IngressClass: 0, Service: 0, EndpointSlice: 0, Secret: 0 }) });
  metrics.watchRestarted('Ingress');
  metrics.watchRelisted('Service');
  metrics.setLeader(true);
  metrics.observeAccessLog({ dropped: 3 });
  const e = parseExposition(await metrics.renderAs('prometheus'));
  assert.equal(one(e, 'switchyard_access_log_dropped_lines_total').value, 3);
  assert.equal(one(e, 'switchyard_route_table_generation').value, 7);
  assert.equal(one(e, 'switchyard_route_table_swaps_total').value, 1);
  assert.equal(one(e, 'switchyard_route_table_build_failures_total').value, 1);
  assert.equal(one(e, 'switchyard_route_table_build_duration_seconds_count').value, 1);
  assert.equal(one(e, 'switchyard_change_to_swap_duration_seconds_bucket', { le: '0.05' }).value, 1);
  assert.equal(one(e, 'switchyard_change_to_swap_duration_seconds_bucket', { le: '0.025' }).value, 0);
  assert.equal(one(e, 'switchyard_invalid_objects', { kind: 'Ingress', reason: 'InvalidPath' }).value, 2);
  assert.equal(one(e, 'switchyard_invalid_objects', { kind: 'Ingress', reason: 'ServiceNotFound' }).value, 1);
  assert.equal(find(e, 'switchyard_invalid_objects', { reason: 'RouteConflict' }).length, 0);
  assert.equal(one(e, 'switchyard_orphan_routes', { reason: 'no_service' }).value, 1);
  assert.equal(one(e, 'switchyard_orphan_routes', { reason: 'no_ready_endpoint' }).value, 1);
  assert.equal(one(e, 'switchyard_objects_watched', { kind: 'Ingress' }).value, 1);
  assert.equal(one(e, 'switchyard_objects_watched', { kind: 'Secret' }).value, 0);
  assert.equal(one(e, 'switchyard_watch_restarts_total', { kind: 'Ingress' }).value, 1);
  assert.equal(one(e, 'switchyard_watch_relists_total', { kind: 'Service' }).value, 1);
  assert.equal(one(e, 'switchyard_leader_election_status').value, 1);
  assert.equal(e.types.has('switchyard_ssl_certificate_expiry_timestamp_seconds'), false, 'not registered before TLS exists');
});

test('label values are escaped', async () => {
  const metrics = new Metrics(OPTIONS);
  const binder = metrics.routes.binder();
  binder.bindRouteMetrics({ ...SHOP, path: '/a"b\\c' }).main.record('GET', 200, 1, 1, 0, 0, 0);
  metrics.routes.commit(binder);
  const body = await metrics.renderAs('prometheus');
  assert.ok(body.includes('path="/a\\"b\\\\c"'));
  assert.equal(one(parseExposition(body), 'switchyard_http_requests_total').labels.path, '/a"b\\c');
});

test('watch restarts and relists are read from the kube source counters at scrape time', async () => {
  const metrics = new Metrics(OPTIONS);
  const stats = { Ingress: { restarts: 0, relists: 0 }, Service: { restarts: 2, relists: 1 } };
  metrics.observeKubeSource({ stats: () => stats });
  let e = parseExposition(await metrics.renderAs('prometheus'));
  assert.equal(one(e, 'switchyard_watch_restarts_total', { kind: 'Service' }).value, 2);
  assert.equal(one(e, 'switchyard_watch_relists_total', { kind: 'Service' }).value, 1);
  assert.equal(one(e, 'switchyard_watch_restarts_total', { kind: 'Secret' }).value, 0);
  stats.Ingress = { restarts: 3, relists: 1 };
  e = parseExposition(await metrics.renderAs('prometheus'));
  assert.equal(one(e, 'switchyard_watch_restarts_total', { kind: 'Ingress' }).value, 3);
  assert.equal(one(e, 'switchyard_watch_restarts_total', { kind: 'Service' }).value, 2);
  assert.equal(one(e, 'switchyard_watch_relists_total', { kind: 'Ingress' }).value, 1);
});

test('a large exposition is produced in chunks (the event loop runs between them) and parses whole', async () => {
  const metrics = new Metrics({ ...OPTIONS, compat: 'ingress-nginx' });
  const binder = metrics.routes.binder();
  for (let i = 0; i < 300; i++) {
    const rm = binder.bindRouteMetrics(route('shop', `web-${i}`, `h${i}.example.com`, '/', `svc-${i}`));
    rm.main.record('GET', 200, 10, 10, 0.01, 0, 0.01);
    rm.main.record('POST', 500, 10, 10, 0.01, 0, 0.01);
  }
  metrics.routes.commit(binder);
  let chunks = 0;
  let immediates = 0;
  const tick = setInterval(() => immediates++, 0);
  let body = '';
  for await (const chunk of metrics.chunks('openmetrics')) {
    chunks++;
    body += chunk;
  }
  clearInterval(tick);
  assert.ok(chunks > 10, `${chunks} chunks`);
  assert.ok(immediates > 0, 'timers ran while rendering');
  const e = parseExposition(body);
  assert.equal(find(e, 'switchyard_http_requests_total').length, 600);
  assert.equal(find(e, 'nginx_ingress_controller_requests').length, 600);
  assert.ok(body.endsWith('# EOF\n'));
});
