// End to end, in process: the real main wiring (file source -> store -> controller -> proxy ->
// admin) on a temp manifests folder, real echo upstreams on port 0, real HTTP through the proxy.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../../src/config.ts';
import { startSwitchyard, type Switchyard } from '../../src/main.ts';
import { startEchoServer, type EchoServer } from '../../src/demo.ts';
import { captureLogs } from '../support/log-capture.ts';
import { get } from './helpers.ts';

function backends(echoes: Record<string, EchoServer>): string {
  return Object.entries(echoes)
    .map(([name, e]) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec: {ports: [{name: http, port: 80, targetPort: ${e.address.port}}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-1, namespace: shop, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
ports: [{name: http, port: ${e.address.port}}]
`)
    .join('---\n');
}

function shopIngress(apiPath: string, apiService = 'api'): string {
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: shop}
spec:
  ingressClassName: switchyard
  rules:
  - host: shop.example.test
    http:
      paths:
      - {path: ${apiPath}, pathType: Prefix, backend: {service: {name: ${apiService}, port: {name: http}}}}
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
      - {path: /healthz, pathType: Exact, backend: {service: {name: api, port: {number: 80}}}}
  - host: "*.apps.example.test"
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}
`;
}

const CLASS = `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: switchyard}
spec: {controller: switchyard.dev/ingress-controller}
`;

async function setup(t: TestContext, holdoffMs = 20, maxHoldoffMs = 200) {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-e2e-'));
  const echoes = { web: await startEchoServer('web', 0), api: await startEchoServer('api', 0), v2: await startEchoServer('v2', 0) };
  await writeFile(join(dir, 'class.yaml'), CLASS);
  await writeFile(join(dir, 'backends.yaml'), backends(echoes));
  await writeFile(join(dir, 'shop.yaml'), shopIngress('/api'));
  const { logger, lines } = captureLogs('debug');
  const config = defaultConfig({
    manifests: dir, httpPort: 0, adminPort: 0, httpsPort: 0, bindAddress: '127.0.0.1', adminBindAddress: '127.0.0.1',
    syncHoldoffMs: holdoffMs, syncMaxHoldoffMs: maxHoldoffMs,
    accessLog: false, // the access log is asserted in test/observability; keep the test output clean
  });
  const app: Switchyard = await startSwitchyard(config, logger);
  t.after(async () => {
    await app.close(0);
    await Promise.all(Object.values(echoes).map((e) => e.close()));
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, echoes, app, lines, port: app.httpAddress.port, adminPort: app.adminAddress.port };
}

/** Resolves with the next table swap's version and when it happened (no sleeps). */
function nextSwap(app: Switchyard): Promise<{ version: number; at: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no table swap within 5s')), 5000);
    const off = app.routeRef.onSwap((_t, version) => {
      clearTimeout(timer);
      off();
      resolve({ version, at: performance.now() });
    });
  });
}

test('host and path routing through the real proxy; /healthz and /readyz', async (t) => {
  const { app, port, adminPort } = await setup(t);
  await app.controller.whenReady();
  assert.equal((await get(adminPort, 'admin', '/readyz')).status, 200);
  assert.equal((await get(adminPort, 'admin', '/healthz')).body, 'ok\n');
  assert.equal((await get(adminPort, 'admin', '/nope')).status, 404);

  const cases: [string, string, number, string][] = [
    ['shop.example.test', '/api/items', 200, 'api'],
    ['shop.example.test', '/api', 200, 'api'],
    ['shop.example.test', '/apis', 200, 'web'],
    ['SHOP.example.test:8080', '/cart?x=1', 200, 'web'],
    ['shop.example.test', '/healthz', 200, 'api'],
    ['shop.example.test', '/healthz/x', 200, 'web'],
    ['shop.example.test', '/web/../api/x', 200, 'api'],
    ['billing.apps.example.test', '/', 200, 'api'],
    ['a.b.apps.example.test', '/', 404, ''],
    ['unknown.test', '/', 404, ''],
  ];
  for (const [host, path, status, backend] of cases) {
    const r = await get(port, host, path);
    assert.equal(r.status, status, `${host}${path}`);
    if (backend) assert.match(r.body, new RegExp(`^${backend} \\(`), `${host}${path} -> ${r.body}`);
  }
});

test('editing a file changes the served route within the debounce window', async (t) => {
  const holdoffMs = 20;
  const maxHoldoffMs = 200;
  const { app, dir, port, lines } = await setup(t, holdoffMs, maxHoldoffMs);
  await app.controller.whenReady();
  assert.match((await get(port, 'shop.example.test', '/v2/items')).body, /^web /);

  const latencies: number[] = [];
  t.after(() => { if (process.env.E2E_DEBUG) for (const l of lines) console.log(JSON.stringify(l)); });
  // 1. in-place edit: /v2 now goes to the v2 backend
  let swap = nextSwap(app);
  let t0 = performance.now();
  await writeFile(join(dir, 'shop.yaml'), shopIngress('/v2', 'v2'));
  let s = await swap;
  latencies.push(s.at - t0);
  assert.match((await get(port, 'shop.example.test', '/v2/items')).body, /^v2 /);
  assert.match((await get(port, 'shop.example.test', '/api/items')).body, /^web /, 'the old path is gone');

  // 2. an editor's save: write elsewhere, rename over
  swap = nextSwap(app);
  t0 = performance.now();
  await writeFile(join(dir, '.shop.yaml.tmp'), shopIngress('/api'));
  await rename(join(dir, '.shop.yaml.tmp'), join(dir, 'shop.yaml'));
  s = await swap;
  latencies.push(s.at - t0);
  assert.match((await get(port, 'shop.example.test', '/api/items')).body, /^api /);

  // 3. a new file adds a host
  swap = nextSwap(app);
  t0 = performance.now();
  await writeFile(join(dir, 'extra.yaml'), `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: extra, namespace: shop}
spec:
  ingressClassName: switchyard
  rules:
  - host: extra.example.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: v2, port: {number: 80}}}}]}
`);
  s = await swap;
  latencies.push(s.at - t0);
  assert.match((await get(port, 'extra.example.test', '/')).body, /^v2 /);

  // 4. deleting a file removes its routes
  swap = nextSwap(app);
  t0 = performance.now();
  await rm(join(dir, 'shop.yaml'));
  s = await swap;
  latencies.push(s.at - t0);
  assert.equal((await get(port, 'shop.example.test', '/api/items')).status, 404);

  // file debounce (10ms) + holdoff, bounded by the max holdoff; generous slack for a loaded CI box.
  const bound = 10 + maxHoldoffMs + 300;
  for (const ms of latencies) assert.ok(ms < bound, `file change -> swap took ${ms.toFixed(1)}ms (bound ${bound}ms)`);
  t.diagnostic(`file change -> table swap: ${latencies.map((ms) => ms.toFixed(1)).join(', ')} ms`);
  assert.ok(lines.some((l) => l.msg === 'route table published'));
});

test('a broken manifest is skipped with a log line; everything else keeps serving', async (t) => {
  const { app, dir, port, lines } = await setup(t);
  await app.controller.whenReady();
  const swap = nextSwap(app);
  await writeFile(join(dir, 'broken.yaml'), `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: [oops
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: good, namespace: shop}
spec:
  ingressClassName: switchyard
  rules:
  - host: good.example.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: missing-svc, namespace: shop}
spec:
  ingressClassName: switchyard
  rules:
  - host: missing.example.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: nope, port: {number: 80}}}}]}
`);
  await swap;
  assert.match((await get(port, 'good.example.test', '/')).body, /^web /);
  assert.match((await get(port, 'shop.example.test', '/api/x')).body, /^api /);
  assert.equal((await get(port, 'missing.example.test', '/')).status, 503);
  const bad = lines.find((l) => l.reason === 'InvalidManifest');
  assert.ok(bad, 'the broken document is logged');
  assert.equal(bad.file, 'broken.yaml');
  assert.ok(lines.some((l) => l.name === 'missing-svc' && l.level !== 'info' && l.level !== 'debug'), 'the missing Service is reported');
});

test('a request storm while the file is edited over and over: zero failed requests', async (t) => {
  const { app, dir, port } = await setup(t, 5, 50);
  await app.controller.whenReady();
  const { Agent, request } = await import('undici');
  const agent = new Agent({ connections: 16, pipelining: 1 });
  t.after(() => agent.close());

  let stop = false;
  const seen = new Map<string, number>();
  const failures: string[] = [];
  let requests = 0;
  const worker = async (): Promise<void> => {
    while (!stop) {
      try {
        const res = await request(`http://127.0.0.1:${port}/api/items`, { dispatcher: agent, headers: { host: 'shop.example.test' } });
        const body = await res.body.text();
        requests++;
        if (res.statusCode !== 200) failures.push(`${res.statusCode} ${body}`);
        const who = body.split(' ')[0];
        seen.set(who, (seen.get(who) ?? 0) + 1);
      } catch (err) {
        failures.push(String(err));
      }
    }
  };
  const workers = Array.from({ length: 16 }, () => worker());

  // Flip /api between the api and v2 backends; wait for each flip to be served (table version).
  const flips = 30;
  for (let i = 0; i < flips; i++) {
    const swapped = new Promise<void>((resolve) => {
      const off = app.routeRef.onSwap(() => {
        off();
        resolve();
      });
    });
    await writeFile(join(dir, 'shop.yaml'), shopIngress('/api', i % 2 === 0 ? 'v2' : 'api'));
    await swapped;
  }
  stop = true;
  await Promise.all(workers);
  t.diagnostic(`${requests} requests across ${flips} table swaps from file edits; served by ${JSON.stringify(Object.fromEntries(seen))}`);
  assert.deepEqual(failures.slice(0, 5), []);
  assert.ok((seen.get('api') ?? 0) > 0 && (seen.get('v2') ?? 0) > 0, 'both versions were served');
});
