// backend-protocol HTTPS: TLS to the endpoints without certificate verification (like nginx's
// default proxy_ssl_verify off), for ordinary requests and retries' pools alike; GRPC & co. are
// reported as unsupported.
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { RouteConfig, RouteSettings } from '../../src/model/route-config.ts';
import { issueCertificate } from '../../src/tls/x509.ts';
import { translate } from '../../src/translate/translate.ts';
import { routeConfig } from '../compile/config-builder.ts';
import { send, startProxy } from '../proxy/support.ts';
import { DEFAULT_TEST_OPTIONS, snapshotOf } from '../translate/fixture.ts';

function configWith(port: number, settings: RouteSettings | undefined): RouteConfig {
  const base = routeConfig({
    hosts: [{ host: 'app.example.com', routes: [{ path: '/', upstream: 'default/web:443' }] }],
    upstreams: [{ key: 'default/web:443', endpoints: [{ address: '127.0.0.1', port }] }],
  });
  return { ...base, virtualHosts: base.virtualHosts.map((vh) => ({ ...vh, routes: vh.routes.map((r) => (settings ? { ...r, settings } : r)) })) };
}

test('backend-protocol HTTPS: TLS to a self-signed upstream; plain HTTP to it fails with 502', async () => {
  const self = issueCertificate({ commonName: 'upstream.internal' });
  const upstream = createServer({ cert: self.cert, key: self.key }, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`tls ${req.url} ${req.headers['x-forwarded-proto']}`);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  const https = await startProxy(configWith(port, { backendProtocol: 'HTTPS' }));
  const plain = await startProxy(configWith(port, undefined));
  const both = await startProxy(configWith(port, { backendProtocol: 'HTTPS', connectTimeoutMs: 2000 }));
  try {
    const r = await send(https.port, { host: 'app.example.com', path: '/secure?x=1' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'tls /secure?x=1 http');
    assert.equal((await send(both.port, { host: 'app.example.com', path: '/b' })).body, 'tls /b http');
    const p = await send(plain.port, { host: 'app.example.com', path: '/' });
    assert.equal(p.status, 502);
  } finally {
    await https.close();
    await plain.close();
    await both.close();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  }
});

test('backend-protocol values: HTTPS read case-insensitively, GRPC and unknown values reported', () => {
  const ingress = (name: string, value: string) => ({
    kind: 'Ingress' as const,
    metadata: { name, namespace: 'default', annotations: { 'nginx.ingress.kubernetes.io/backend-protocol': value } },
    spec: { ingressClassName: 'switchyard', rules: [{ host: `${name}.example.com`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
  });
  const { config, diagnostics } = translate(snapshotOf([ingress('a', 'https'), ingress('b', 'GRPC'), ingress('c', 'SPDY')]), DEFAULT_TEST_OPTIONS);
  const settings = Object.fromEntries(config.virtualHosts.map((vh) => [vh.host, vh.routes[0].settings]));
  assert.deepEqual(settings['a.example.com'], { backendProtocol: 'HTTPS' });
  assert.equal(settings['b.example.com'], undefined);
  const messages = diagnostics.filter((d) => d.reason === 'InvalidAnnotation').map((d) => `${d.object.name}: ${d.message}`);
  assert.deepEqual(messages, [
    'b: annotation nginx.ingress.kubernetes.io/backend-protocol: "GRPC" is not supported (only HTTP and HTTPS); HTTP (GRPC, GRPCS, AUTO_HTTP, FCGI are not supported)',
    'c: annotation nginx.ingress.kubernetes.io/backend-protocol: "SPDY" is not a backend protocol (HTTP or HTTPS); HTTP (GRPC, GRPCS, AUTO_HTTP, FCGI are not supported)',
  ]);
});
