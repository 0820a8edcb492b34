// Observability end to end through the real main wiring (file source -> controller -> proxy ->
// admin): series after real requests, /metrics on the admin port, /debug/* following a live
// manifest edit, the access log file flushed on close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../../src/config.ts';
import { startSwitchyard } from '../../src/main.ts';
import { startEchoServer } from '../../src/demo.ts';
import { captureLogs } from '../support/log-capture.ts';
import { get } from '../e2e/helpers.ts';
import { find, one, parseExposition } from './exposition-parser.ts';

const CLASS = `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: switchyard}
spec: {controller: switchyard.dev/ingress-controller}
`;

function backend(name: string, port: number): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec: {ports: [{name: http, port: 80, targetPort: ${port}}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-1, namespace: shop, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
ports: [{name: http, port: ${port}}]
`;
}

function ingress(paths: [string, string][]): string {
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: shop}
spec:
  ingressClassName: switchyard
  rules:
  - host: shop.example.test
    http:
      paths:
${paths.map(([path, svc]) => `      - {path: ${path}, pathType: Prefix, backend: {service: {name: ${svc}, port: {number: 80}}}}`).join('\n')}
`;
}

test('main wiring: per-route series after real requests, /metrics, /debug/* after a live edit, access log file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-obs-e2e-'));
  const web = await startEchoServer('web', 0);
  const api = await startEchoServer('api', 0);
  await writeFile(join(dir, 'class.yaml'), CLASS);
  await writeFile(join(dir, 'backends.yaml'), `${backend('web', web.address.port)}---\n${backend('api', api.address.port)}`);
  await writeFile(join(dir, 'shop.yaml'), ingress([['/', 'web']]));
  const accessLogPath = join(dir, 'logs', 'access.json');
  const { logger } = captureLogs('info');
  const app = await startSwitchyard(defaultConfig({
    manifests: dir, httpPort: 0, adminPort: 0, httpsPort: 0, bindAddress: '127.0.0.1', adminBindAddress: '127.0.0.1',
    syncHoldoffMs: 10, syncMaxHoldoffMs: 50, metricsCompat: 'ingress-nginx', podName: 'switchyard-0', podNamespace: 'ingress',
    accessLogPath,
  }), logger);
  let closed = false;
  t.after(async () => {
    if (!closed) await app.close(0);
    await web.close();
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });
  await app.controller.whenReady();
  const port = app.httpAddress.port;
  const admin = app.adminAddress.port;

  assert.match((await get(port, 'shop.example.test', '/cart')).body, /^web /);
  assert.match((await get(port, 'shop.example.test', '/api/x')).body, /^web /);
  assert.equal((await get(port, 'random-scanner.test', '/')).status, 404);

  let e = parseExposition((await get(admin, 'admin', '/metrics')).body);
  const webLabels = { namespace: 'shop', ingress: 'shop', service: 'web', host: 'shop.example.test', path: '/', canary: '', method: 'GET', status: '200' };
  assert.deepEqual(one(e, 'switchyard_http_requests_total', { ingress: 'shop' }).labels, webLabels);
  assert.equal(one(e, 'switchyard_http_requests_total', { ingress: 'shop' }).value, 2);
  assert.equal(one(e, 'switchyard_http_requests_total', { host: '_' }).value, 1);
  assert.equal(one(e, 'nginx_ingress_controller_requests').labels.controller_pod, 'switchyard-0');
  assert.equal(one(e, 'nginx_ingress_controller_requests').labels.controller_namespace, 'ingress');
  assert.equal(one(e, 'switchyard_objects_watched', { kind: 'Ingress' }).value, 1);
  assert.ok(e.types.has('process_cpu_user_seconds_total'), 'default process metrics');
  const generation = one(e, 'switchyard_route_table_generation').value;
  let routes = JSON.parse((await get(admin, 'admin', '/debug/routes')).body);
  assert.equal(routes.generation, generation);

  // A live edit: /api now goes to the api Service.
  const swapped = new Promise<void>((resolve) => { const off = app.routeRef.onSwap(() => { off(); resolve(); }); });
  await writeFile(join(dir, 'shop.yaml'), ingress([['/api', 'api'], ['/', 'web']]));
  await swapped;
  routes = JSON.parse((await get(admin, 'admin', '/debug/routes')).body);
  assert.equal(routes.generation, generation + 1);
  assert.deepEqual(routes.virtualHosts[0].routes.map((r: { path: string }) => r.path), ['/api', '/']);
  const match = JSON.parse((await get(admin, 'admin', '/debug/match?host=shop.example.test&path=/api/x')).body);
  assert.equal(match.route.path, '/api');
  assert.deepEqual(match.upstream.candidates, [`127.0.0.1:${api.address.port}`]);
  assert.match((await get(port, 'shop.example.test', '/api/x')).body, /^api /);

  e = parseExposition((await get(admin, 'admin', '/metrics')).body);
  assert.equal(one(e, 'switchyard_http_requests_total', { path: '/' }).value, 2, 'the unchanged route kept its series');
  assert.equal(one(e, 'switchyard_http_requests_total', { path: '/api' }).value, 1);
  assert.equal(one(e, 'switchyard_change_to_swap_duration_seconds_count').value, 1);
  assert.equal(find(e, 'switchyard_route_table_swaps_total')[0].value, 2);

  // Shutdown flushes the access log: one line per request, in order.
  await app.close(0);
  closed = true;
  const lines = (await readFile(accessLogPath, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => [l.host, l.path, l.status, l.service]), [
    ['shop.example.test', '/cart', 200, 'web'],
    ['shop.example.test', '/api/x', 200, 'web'],
    ['random-scanner.test', '/', 404, ''],
    ['shop.example.test', '/api/x', 200, 'api'],
  ]);
});
