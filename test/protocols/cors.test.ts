// enable-cors end to end over real sockets: Ingress objects -> translate -> compile -> proxy.
// Preflights answered 204 by the proxy, CORS headers on upstream responses (replacing the
// upstream's own), origin lists with a wildcard label, requests from other origins untouched.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EndpointSlice, Ingress, KubeObject, Service } from '../../src/model/kube.ts';
import { CompiledCors } from '../../src/compile/cors.ts';
import { translate } from '../../src/translate/translate.ts';
import { DEFAULT_TEST_OPTIONS, snapshotOf } from '../translate/fixture.ts';
import { send, startProxy, startUpstream, type Harness, type Upstream } from '../proxy/support.ts';

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
  const ingress = (name: string, annotations: Record<string, string>): Ingress => ({
    kind: 'Ingress',
    metadata: { name, namespace: 'shop', creationTimestamp: '2024-01-01T00:00:00Z', annotations },
    spec: { ingressClassName: 'switchyard', rules: [{ host: `${name}.example.com`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
  });
  return [
    svc,
    slice,
    ingress('any', { [`${NGINX}enable-cors`]: 'true' }),
    ingress('listed', {
      [`${NGINX}enable-cors`]: 'true',
      [`${NGINX}cors-allow-origin`]: 'https://app.example.com, https://*.partner.example:8443',
      [`${NGINX}cors-expose-headers`]: 'X-Request-Id',
      [`${NGINX}cors-allow-credentials`]: 'false',
      [`${NGINX}cors-max-age`]: '600',
    }),
  ];
}

describe('enable-cors', () => {
  let upstream: Upstream;
  let h: Harness;

  before(async () => {
    upstream = await startUpstream('web', (req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      // An upstream that sets its own CORS header: the route's replace it.
      res.writeHead(200, { 'content-type': 'text/plain', 'access-control-allow-origin': 'https://upstream.example', 'x-method': req.method ?? '' });
      res.end('from upstream');
    });
    const result = translate(snapshotOf(objects(upstream)), DEFAULT_TEST_OPTIONS);
    assert.deepEqual(result.diagnostics, []);
    h = await startProxy(result.config);
  });

  after(async () => {
    await h.close();
    await upstream.close();
  });

  test('cors-allow-origin "*" (the default): every response gets the headers, Origin or not', async () => {
    const r = await send(h.port, { host: 'any.example.com', path: '/a' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'from upstream');
    assert.equal(r.headers['access-control-allow-origin'], '*', 'the upstream\'s own value is replaced');
    assert.equal(r.headers['access-control-allow-credentials'], 'true');
    assert.equal(r.headers['access-control-allow-methods'], 'GET, PUT, POST, DELETE, PATCH, OPTIONS');
    assert.equal(r.headers['access-control-allow-headers'], 'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization');
    assert.equal(r.headers['access-control-max-age'], '1728000');
    assert.equal(r.headers['access-control-expose-headers'], undefined);
  });

  test('a preflight from an allowed origin is answered 204 by the proxy, nothing forwarded', async () => {
    const before = upstream.seen.length;
    const r = await send(h.port, { host: 'any.example.com', path: '/a', method: 'OPTIONS', headers: { origin: 'https://x.example', 'access-control-request-method': 'PUT' } });
    assert.equal(r.status, 204);
    assert.equal(r.body, '');
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.equal(r.headers['access-control-allow-methods'], 'GET, PUT, POST, DELETE, PATCH, OPTIONS');
    assert.match(String(r.headers['content-type']), /^text\/plain/);
    assert.equal(upstream.seen.length, before);
  });

  test('an origin list: the request\'s Origin is echoed when it matches (case-insensitive, "*." = one label)', async () => {
    for (const origin of ['https://app.example.com', 'https://APP.example.com', 'https://eu.partner.example:8443']) {
      const r = await send(h.port, { host: 'listed.example.com', path: '/', headers: { origin } });
      assert.equal(r.headers['access-control-allow-origin'], origin, origin);
      assert.equal(r.headers['access-control-allow-credentials'], undefined, 'cors-allow-credentials: "false"');
      assert.equal(r.headers['access-control-expose-headers'], 'X-Request-Id');
      assert.equal(r.headers['access-control-max-age'], '600');
    }
  });

  test('other origins, and requests without Origin, get no CORS headers and their OPTIONS reach the upstream', async () => {
    for (const origin of ['https://evil.example', 'https://a.b.partner.example:8443', 'https://partner.example:8443', 'http://app.example.com', 'https://app.example.com.evil.example']) {
      const r = await send(h.port, { host: 'listed.example.com', path: '/', headers: { origin } });
      assert.equal(r.headers['access-control-allow-origin'], 'https://upstream.example', `${origin}: the upstream's header passes untouched`);
      assert.equal(r.headers['access-control-allow-methods'], undefined, origin);
    }
    const before = upstream.seen.length;
    const options = await send(h.port, { host: 'listed.example.com', path: '/', method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
    assert.equal(options.status, 200);
    assert.equal(options.headers['x-method'], 'OPTIONS');
    assert.equal(upstream.seen.length, before + 1);
    const none = await send(h.port, { host: 'listed.example.com', path: '/' });
    assert.equal(none.headers['access-control-allow-methods'], undefined);
  });
});

test('CompiledCors: an invalid (empty) origin list allows nothing', () => {
  const cors = new CompiledCors({ origins: [], allowMethods: 'GET', allowHeaders: 'X', exposeHeaders: '', allowCredentials: true, maxAgeSeconds: 1 });
  assert.equal(cors.allowOrigin('https://app.example.com'), null);
  assert.equal(cors.allowOrigin(null), null);
});
