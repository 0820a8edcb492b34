// The whole controller (startSwitchyard, file source) with TLS: a plain kubernetes.io/tls Secret
// YAML in the manifests folder (stringData, as people write them by hand), an Ingress with spec.tls,
// the HTTPS listener serving it by SNI over HTTP/1.1 and h2, HTTP redirected to HTTPS, a renewed
// Secret file served on the next handshake, the expiry gauge on /metrics.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as h2connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultConfig } from '../../src/config.ts';
import { startSwitchyard } from '../../src/main.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { send, startUpstream } from '../proxy/support.ts';
import { commonName, httpsGet, leaf, presented } from './support.ts';

function indent(pem: string): string {
  return pem.trim().split('\n').map((l) => `      ${l}`).join('\n');
}

function secretYaml(cert: string, key: string): string {
  return `apiVersion: v1
kind: Secret
metadata: { name: shop-tls, namespace: default }
type: kubernetes.io/tls
stringData:
  tls.crt: |
${indent(cert)}
  tls.key: |
${indent(key)}
`;
}

test('TLS end to end through main: Secret file, SNI, h2, redirect, renewal, expiry metric', async (t) => {
  const web = await startUpstream('web');
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-tls-'));
  const first = leaf('shop.example.com');
  await writeFile(join(dir, 'class.yaml'), 'apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: { name: switchyard }\nspec: { controller: switchyard.dev/ingress-controller }\n');
  await writeFile(
    join(dir, 'web.yaml'),
    `apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec: { ports: [{ name: http, port: 80 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-1, namespace: default, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
ports: [{ name: http, port: ${web.port} }]
endpoints: [{ addresses: [127.0.0.1] }]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: shop, namespace: default }
spec:
  ingressClassName: switchyard
  tls: [{ hosts: [shop.example.com], secretName: shop-tls }]
  rules:
    - host: shop.example.com
      http: { paths: [{ path: /, pathType: Prefix, backend: { service: { name: web, port: { number: 80 } } } }] }
`,
  );
  await writeFile(join(dir, 'secret.yaml'), secretYaml(first.cert, first.key));
  const app = await startSwitchyard(
    defaultConfig({
      manifests: dir, httpPort: 0, httpsPort: 0, adminPort: 0, bindAddress: '127.0.0.1', adminBindAddress: '127.0.0.1',
      syncHoldoffMs: 10, syncMaxHoldoffMs: 50, accessLog: false,
    }),
    createLogger({ level: 'silent' }),
  );
  t.after(async () => {
    await app.close(0);
    await web.close();
    await rm(dir, { recursive: true, force: true });
  });
  await app.controller.whenReady();
  const httpsPort = app.httpsAddress.port;

  const served = await presented(httpsPort, 'shop.example.com');
  assert.equal(commonName(served.cert), 'shop.example.com');
  assert.equal(served.authorized, true);
  const r = await httpsGet(httpsPort, 'shop.example.com', '/x');
  assert.equal(r.status, 200);
  assert.equal((JSON.parse(r.body) as { headers: Record<string, string> }).headers['x-forwarded-proto'], 'https');

  // h2 on the same port.
  const session = h2connect(`https://shop.example.com:${httpsPort}`, { ca: (await import('./support.ts')).CA.cert, host: '127.0.0.1', port: httpsPort, servername: 'shop.example.com' } as never);
  const status = await new Promise<number>((resolve, reject) => {
    const stream = session.request({ ':path': '/h2', ':authority': 'shop.example.com' });
    stream.on('response', (h) => resolve(Number(h[':status'])));
    stream.on('error', reject);
    stream.resume();
  });
  session.close();
  assert.equal(status, 200);

  // Plain HTTP for a TLS host: 308 to https.
  const redirect = await send(app.httpAddress.port, { host: 'shop.example.com', path: '/cart' });
  assert.equal(redirect.status, 308);
  assert.equal(redirect.headers.location, 'https://shop.example.com/cart');

  // Renewal: rewrite the Secret file; the next handshake gets the new certificate.
  const renewed = leaf('shop.example.com');
  const generation = app.routeRef.current.generation;
  await writeFile(join(dir, 'secret.yaml'), secretYaml(renewed.cert, renewed.key));
  while (app.routeRef.current.generation === generation) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal((await presented(httpsPort, 'shop.example.com')).cert.serialNumber, new X509Certificate(renewed.cert).serialNumber);

  // Expiry gauge on /metrics.
  const metrics = await send(app.adminAddress.port, { path: '/metrics' });
  const notAfter = Math.floor(Date.parse(new X509Certificate(renewed.cert).validTo) / 1000);
  assert.match(metrics.body, new RegExp(`switchyard_ssl_certificate_expiry_timestamp_seconds\\{host="shop.example.com",secret="default/shop-tls"\\} ${notAfter}`));
});
