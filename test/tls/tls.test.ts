// TLS termination over real sockets with real TLS clients and a test CA: SNI (exact, wildcard,
// default for unknown names and for clients without SNI), a renewed Secret served from the next
// handshake while an open connection keeps working, broken Secrets (bad PEM, key mismatch,
// missing) falling back to the default, --default-ssl-certificate, HTTP -> HTTPS redirects
// (ssl-redirect, ACME exception, opt-out), X-Forwarded-Proto, the expiry metric.
import assert from 'node:assert/strict';
import { Agent } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import type { KubeObject } from '../../src/model/kube.ts';
import { createProxyServer, type ProxyServer } from '../../src/proxy/server.ts';
import { registerCertificateMetrics } from '../../src/tls/certificate-metrics.ts';
import { CertificateStore } from '../../src/tls/certificate-store.ts';
import { createHttpsProxyServer } from '../../src/tls/https-server.ts';
import { send, silentLogger, startUpstream, type Upstream } from '../proxy/support.ts';
import { CA, Pipeline, TLS_OPTIONS, backendObjects, commonName, httpsGet, ingress, leaf, presented, tlsSecret } from './support.ts';

describe('TLS termination', () => {
  let upstream: Upstream;
  let pipeline: Pipeline;
  let https: ProxyServer;
  let http: ProxyServer;
  let httpsPort: number;
  let httpPort: number;
  let certificates: CertificateStore;
  const shop = leaf('shop.example.com');
  const wild = leaf('*.wild.example.com', ['*.wild.example.com']);
  let objects: KubeObject[];

  before(async () => {
    upstream = await startUpstream('web');
    objects = [
      ...backendObjects(upstream.port),
      tlsSecret('shop-tls', shop.cert, shop.key),
      tlsSecret('wild-tls', wild.cert, wild.key),
      ingress('shop', ['shop.example.com', 'plain.example.com'], [{ hosts: ['shop.example.com'], secretName: 'shop-tls' }]),
      ingress('wild', ['a.wild.example.com'], [{ hosts: ['*.wild.example.com'], secretName: 'wild-tls' }]),
      ingress('optout', ['optout.example.com'], [{ hosts: ['optout.example.com'], secretName: 'shop-tls' }], { 'nginx.ingress.kubernetes.io/ssl-redirect': 'false' }),
    ];
    pipeline = new Pipeline(objects);
    certificates = new CertificateStore({ routeRef: pipeline.routeRef, logger: silentLogger });
    https = createHttpsProxyServer({ routeRef: pipeline.routeRef, logger: silentLogger, certificates });
    http = createProxyServer({ routeRef: pipeline.routeRef, logger: silentLogger });
    httpsPort = (await https.listen(0, '127.0.0.1')).port;
    httpPort = (await http.listen(0, '127.0.0.1')).port;
  });

  after(async () => {
    await https.close(100);
    await http.close(100);
    await upstream.close();
  });

  test('SNI picks the certificate: exact host, wildcard, default for unknown names and no SNI', async () => {
    const exact = await presented(httpsPort, 'shop.example.com');
    assert.equal(commonName(exact.cert), 'shop.example.com');
    assert.equal(exact.authorized, true);
    const wildcard = await presented(httpsPort, 'a.wild.example.com');
    assert.equal(commonName(wildcard.cert), '*.wild.example.com');
    assert.equal(wildcard.authorized, true);
    // A wildcard covers exactly one label.
    assert.equal(commonName((await presented(httpsPort, 'x.a.wild.example.com')).cert), 'Switchyard Default Certificate');
    const unknown = await presented(httpsPort, 'unknown.example.com');
    assert.equal(commonName(unknown.cert), 'Switchyard Default Certificate');
    assert.equal(unknown.authorized, false);
    assert.equal(commonName((await presented(httpsPort, undefined)).cert), 'Switchyard Default Certificate');
    // The same Secret for a second Ingress's host.
    assert.equal(commonName((await presented(httpsPort, 'optout.example.com')).cert), 'shop.example.com');
  });

  test('HTTPS requests reach the upstream with X-Forwarded-Proto https; no ssl-redirect on TLS', async () => {
    const r = await httpsGet(httpsPort, 'shop.example.com', '/cart?x=1');
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
    assert.equal(seen.url, '/cart?x=1');
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-forwarded-port'], String(httpsPort));
  });

  test('HTTP -> HTTPS: 308 for hosts with TLS, not for ACME challenges, not with ssl-redirect "false", not for hosts without TLS', async () => {
    const r = await send(httpPort, { host: 'shop.example.com', path: '/cart?x=1' });
    assert.equal(r.status, 308);
    assert.equal(r.headers.location, 'https://shop.example.com/cart?x=1');
    const wildcard = await send(httpPort, { host: 'a.wild.example.com', path: '/' });
    assert.equal(wildcard.status, 308);
    assert.equal((await send(httpPort, { host: 'shop.example.com', path: '/.well-known/acme-challenge/abc' })).status, 200);
    assert.equal((await send(httpPort, { host: 'optout.example.com', path: '/' })).status, 200);
    assert.equal((await send(httpPort, { host: 'plain.example.com', path: '/' })).status, 200);
  });

  test('a renewed Secret is served from the next handshake; an open connection keeps working', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await httpsGet(httpsPort, 'shop.example.com', '/', agent);
      assert.equal(before.status, 200);
      const oldSerial = (await presented(httpsPort, 'shop.example.com')).cert.serialNumber;
      const renewed = leaf('shop.example.com', ['shop.example.com'], new Date(Date.now() + 90 * 86_400_000));
      const next = objects.map((o) => (o.kind === 'Secret' && o.metadata.name === 'shop-tls' ? tlsSecret('shop-tls', renewed.cert, renewed.key) : o));
      pipeline.swap(next);
      const now = await presented(httpsPort, 'shop.example.com');
      assert.notEqual(now.cert.serialNumber, oldSerial);
      assert.equal(now.cert.serialNumber, new (await import('node:crypto')).X509Certificate(renewed.cert).serialNumber);
      assert.equal(now.authorized, true);
      // The keep-alive connection opened before the swap still serves requests.
      const again = await httpsGet(httpsPort, 'shop.example.com', '/', agent);
      assert.equal(again.status, 200);
      pipeline.swap(objects);
    } finally {
      agent.destroy();
    }
  });

  test('broken Secrets are reported and their hosts get the default certificate; others keep theirs', async () => {
    const other = leaf('other.example.com');
    const broken: KubeObject[] = [
      ...objects,
      tlsSecret('mismatch', shop.cert, other.key),
      tlsSecret('bad-pem', 'not a certificate', other.key),
      ingress('broken', ['mismatch.example.com', 'badpem.example.com', 'missing.example.com'], [
        { hosts: ['mismatch.example.com'], secretName: 'mismatch' },
        { hosts: ['badpem.example.com'], secretName: 'bad-pem' },
        { hosts: ['missing.example.com'], secretName: 'nope' },
      ]),
    ];
    const result = pipeline.swap(broken);
    const reasons = result.diagnostics.filter((d) => d.object.name === 'broken').map((d) => `${d.severity} ${d.reason}: ${d.message}`);
    assert.deepEqual(reasons, [
      'error InvalidTlsSecret: spec.tls[0]: Secret default/mismatch tls.key does not match the certificate in tls.crt; host mismatch.example.com is served with the default certificate',
      'error InvalidTlsSecret: spec.tls[1]: Secret default/bad-pem tls.crt is not a PEM certificate; host badpem.example.com is served with the default certificate',
      'error TlsSecretNotFound: spec.tls[2]: Secret default/nope not found; host missing.example.com is served with the default certificate',
    ]);
    for (const host of ['mismatch.example.com', 'badpem.example.com', 'missing.example.com']) {
      assert.equal(commonName((await presented(httpsPort, host)).cert), 'Switchyard Default Certificate', host);
    }
    assert.equal(commonName((await presented(httpsPort, 'shop.example.com')).cert), 'shop.example.com');
    // Hosts listed in spec.tls still redirect to https (they are served with the default certificate).
    assert.equal((await send(httpPort, { host: 'missing.example.com', path: '/' })).status, 308);
    pipeline.swap(objects);
  });

  test('two Ingresses naming different Secrets for one host: the older wins (TlsHostConflict)', async () => {
    const other = leaf('shop.example.com');
    const result = pipeline.swap([
      ...objects,
      tlsSecret('newer-tls', other.cert, other.key),
      ingress('newer', ['shop.example.com'], [{ hosts: ['shop.example.com'], secretName: 'newer-tls' }], {}, '2025-01-01T00:00:00Z'),
    ]);
    assert.ok(result.diagnostics.some((d) => d.reason === 'TlsHostConflict' && d.object.name === 'newer'));
    const served = await presented(httpsPort, 'shop.example.com');
    assert.notEqual(served.cert.serialNumber, new (await import('node:crypto')).X509Certificate(other.cert).serialNumber);
    pipeline.swap(objects);
  });

  test('--default-ssl-certificate serves unknown names and clients without SNI; a broken one falls back to the generated', async () => {
    const fallback = leaf('fallback.example.com');
    const withDefault = new Pipeline([...objects, tlsSecret('default-tls', fallback.cert, fallback.key, 'ingress')], {
      ...TLS_OPTIONS,
      defaultSslCertificate: { namespace: 'ingress', name: 'default-tls' },
    });
    const store = new CertificateStore({ routeRef: withDefault.routeRef, logger: silentLogger });
    const server = createHttpsProxyServer({ routeRef: withDefault.routeRef, logger: silentLogger, certificates: store });
    const port = (await server.listen(0, '127.0.0.1')).port;
    try {
      assert.equal(commonName((await presented(port, 'unknown.example.com')).cert), 'fallback.example.com');
      assert.equal(commonName((await presented(port, undefined)).cert), 'fallback.example.com');
      assert.equal(commonName((await presented(port, 'shop.example.com')).cert), 'shop.example.com');
      const result = withDefault.swap([...objects, tlsSecret('default-tls', 'garbage', fallback.key, 'ingress')]);
      assert.ok(result.diagnostics.some((d) => d.reason === 'InvalidTlsSecret' && d.object.kind === 'Secret' && d.message.startsWith('--default-ssl-certificate')));
      assert.equal(commonName((await presented(port, 'unknown.example.com')).cert), 'Switchyard Default Certificate');
      assert.equal(commonName((await presented(port, undefined)).cert), 'Switchyard Default Certificate');
    } finally {
      await server.close(100);
    }
  });

  test('certificate expiry metric per host, read from the current table', async () => {
    const registry = new Registry();
    registerCertificateMetrics(registry, pipeline.routeRef);
    const text = await registry.metrics();
    const notAfter = Math.floor(Date.parse(new (await import('node:crypto')).X509Certificate(shop.cert).validTo) / 1000);
    assert.match(text, new RegExp(`switchyard_ssl_certificate_expiry_timestamp_seconds\\{host="shop.example.com",secret="default/shop-tls"\\} ${notAfter}`));
    assert.match(text, /switchyard_ssl_certificate_expiry_timestamp_seconds\{host="\*.wild.example.com",secret="default\/wild-tls"\}/);
    assert.ok(CA.cert.length > 0);
  });
});
