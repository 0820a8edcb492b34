// limit-rps / limit-connections / limit-allowlist end to end over real sockets: Ingress objects ->
// translate -> compile -> proxy. The 503 body and log line, the zone shared by an Ingress's paths,
// counters kept across a table swap, in-progress counting, exempt clients, upgrade requests.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EndpointSlice, Ingress, KubeObject, Service } from '../../src/model/kube.ts';
import type { RouteConfig } from '../../src/model/route-config.ts';
import { translate } from '../../src/translate/translate.ts';
import { DEFAULT_TEST_OPTIONS, snapshotOf } from '../translate/fixture.ts';
import { echo, send, startProxy, startUpstream, type Harness, type Upstream } from '../proxy/support.ts';
import { captureLogs } from '../support/log-capture.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';

function objects(upstream: Upstream): KubeObject[] {
  const svc: Service = { kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { ports: [{ port: 80 }] } };
  const slice: EndpointSlice = {
    kind: 'EndpointSlice',
    metadata: { name: 'web-1', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    ports: [{ port: upstream.port }],
    endpoints: [{ addresses: ['127.0.0.1'] }],
  };
  const ingress = (name: string, annotations: Record<string, string>, paths = ['/']): Ingress => ({
    kind: 'Ingress',
    metadata: { name, namespace: 'shop', creationTimestamp: '2024-01-01T00:00:00Z', annotations },
    spec: {
      ingressClassName: 'switchyard',
      rules: [{ host: `${name}.example.com`, http: { paths: paths.map((path) => ({ path, pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } })) } }],
    },
  });
  return [
    svc,
    slice,
    ingress('rps', { [`${NGINX}limit-rps`]: '1', [`${NGINX}limit-burst-multiplier`]: '2' }, ['/', '/api']),
    ingress('conn', { [`${NGINX}limit-connections`]: '1' }),
    ingress('exempt', { [`${NGINX}limit-rps`]: '1', [`${NGINX}limit-burst-multiplier`]: '1', [`${NGINX}limit-allowlist`]: '127.0.0.0/8, ::1' }),
    ingress('upgrade', { [`${NGINX}limit-rps`]: '1', [`${NGINX}limit-burst-multiplier`]: '1' }),
  ];
}

describe('rate limits', () => {
  let upstream: Upstream;
  let h: Harness;
  let config: RouteConfig;
  const logs = captureLogs('info');
  /** Responses of /hold requests wait here until released. */
  const held: ServerResponse[] = [];

  before(async () => {
    upstream = await startUpstream('web', (req: IncomingMessage, res: ServerResponse, name: string) => {
      if (req.url === '/hold') {
        req.resume();
        held.push(res);
        return;
      }
      echo(req, res, name);
    });
    const result = translate(snapshotOf(objects(upstream)), DEFAULT_TEST_OPTIONS);
    assert.deepEqual(result.diagnostics, []);
    config = result.config;
    h = await startProxy(config, { logger: logs.logger });
  });

  after(async () => {
    for (const res of held) res.end();
    await h.close();
    await upstream.close();
  });

  test('limit-rps 1 x 2: 3 requests at once pass, the next gets 503 with a plain body and a log line saying why', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await send(h.port, { host: 'rps.example.com', path: '/' })).status);
    assert.deepEqual(statuses, [200, 200, 200, 503]);
    const refused = await send(h.port, { host: 'rps.example.com', path: '/x' });
    assert.equal(refused.status, 503);
    assert.equal(refused.body, 'Service Unavailable: too many requests from this client\n');
    assert.match(String(refused.headers['content-type']), /^text\/plain/);
    const line = logs.lines.findLast((l) => l.reason === 'SWY_ERR_RATE_LIMITED');
    assert.ok(line, 'a log line');
    assert.match(String((line.err as { message: string }).message), /client 127\.0\.0\.1: limit-rps 1 \(burst 2\) exceeded \(zone shop\/rps\)/);
  });

  test('the zone is the Ingress: its other paths are limited too, and a table swap keeps the counters', async () => {
    assert.equal((await send(h.port, { host: 'rps.example.com', path: '/api' })).status, 503);
    h.swap(structuredClone(config)); // a new table with the same limits
    assert.equal((await send(h.port, { host: 'rps.example.com', path: '/' })).status, 503);
    // Other Ingresses have their own zones.
    assert.equal((await send(h.port, { host: 'exempt.example.com', path: '/' })).status, 200);
  });

  test('limit-connections 1: a second request while the first is in progress gets 503; after it, the next passes', async () => {
    const first = send(h.port, { host: 'conn.example.com', path: '/hold' });
    while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
    assert.equal((await send(h.port, { host: 'conn.example.com', path: '/' })).status, 503);
    held.shift()!.end('done');
    assert.equal((await first).status, 200);
    assert.equal((await send(h.port, { host: 'conn.example.com', path: '/' })).status, 200);
    assert.equal((await send(h.port, { host: 'conn.example.com', path: '/' })).status, 200);
  });

  test('limit-allowlist: exempt clients are never limited', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await send(h.port, { host: 'exempt.example.com', path: '/' })).status, 200);
  });

  test('upgrade requests are limited too', async () => {
    const upgrade = { connection: 'Upgrade', upgrade: 'websocket' };
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await send(h.port, { host: 'upgrade.example.com', path: '/', headers: upgrade })).status);
    assert.deepEqual(statuses, [200, 200, 503], 'the echo upstream answers 200 (no upgrade), then the limit answers');
  });
});
