// use-regex and rewrite-target end to end over real sockets: Ingress objects -> translate ->
// compile -> proxy -> upstreams that echo the URL they received. The ingress-nginx manifests people
// migrate with: "/api(/|$)(.*)" + rewrite-target "/$2", use-regex paths, and the paths of other
// Ingresses on the same host becoming case-insensitive prefix patterns.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EndpointSlice, HTTPIngressPath, Ingress, KubeObject, Service } from '../../src/model/kube.ts';
import { translate } from '../../src/translate/translate.ts';
import { DEFAULT_TEST_OPTIONS, snapshotOf } from '../translate/fixture.ts';
import { send, startUpstream, type Upstream } from '../proxy/support.ts';
import { startBalancedProxy, type BalancedHarness } from '../resilience/support.ts';

function service(name: string, upstream: Upstream): KubeObject[] {
  const svc: Service = { kind: 'Service', metadata: { name, namespace: 'shop' }, spec: { ports: [{ port: 80 }] } };
  const slice: EndpointSlice = {
    kind: 'EndpointSlice',
    metadata: { name: `${name}-1`, namespace: 'shop', labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: [{ port: upstream.port }],
    endpoints: [{ addresses: ['127.0.0.1'] }],
  };
  return [svc, slice];
}

function ingress(name: string, created: string, host: string, annotations: Record<string, string>, paths: [string, HTTPIngressPath['pathType'], string][]): Ingress {
  return {
    kind: 'Ingress',
    metadata: { name, namespace: 'shop', creationTimestamp: created, annotations },
    spec: {
      ingressClassName: 'switchyard',
      rules: [{ host, http: { paths: paths.map(([path, pathType, svc]) => ({ path, pathType, backend: { service: { name: svc, port: { number: 80 } } } })) } }],
    },
  };
}

describe('regular-expression paths and rewrite-target', () => {
  let api: Upstream, web: Upstream;
  let h: BalancedHarness;

  before(async () => {
    api = await startUpstream('api');
    web = await startUpstream('web');
    const objects: KubeObject[] = [
      ...service('api', api),
      ...service('web', web),
      ingress('api', '2024-01-01T00:00:00Z', 'shop.example.com', { 'nginx.ingress.kubernetes.io/rewrite-target': '/$2' }, [
        ['/api(/|$)(.*)', 'ImplementationSpecific', 'api'],
      ]),
      ingress('web', '2024-01-02T00:00:00Z', 'shop.example.com', {}, [
        ['/', 'Prefix', 'web'],
        ['/health', 'Exact', 'web'],
      ]),
      ingress('legacy', '2024-01-01T00:00:00Z', 'legacy.example.com', { 'nginx.ingress.kubernetes.io/rewrite-target': '/' }, [['/old', 'Prefix', 'api']]),
      ingress('files', '2024-01-01T00:00:00Z', 'files.example.com', { 'nginx.ingress.kubernetes.io/use-regex': 'true', 'nginx.ingress.kubernetes.io/affinity': 'cookie' }, [
        ['/img/.*\\.(png|jpg)$', 'ImplementationSpecific', 'api'],
        ['/', 'Prefix', 'web'],
      ]),
      ingress('spec', '2024-01-01T00:00:00Z', 'spec.example.com', {}, [['/health', 'Exact', 'web']]),
    ];
    const { config, diagnostics } = translate(snapshotOf(objects), DEFAULT_TEST_OPTIONS);
    assert.deepEqual(
      diagnostics.map((d) => `${d.object.name} ${d.reason}`),
      ['web RegexPathsEnforced'],
      'only the Ingress pulled into regex matching by another is told',
    );
    h = await startBalancedProxy(config); // with balancing, so affinity is live
  });

  after(async () => {
    await h.close();
    await api.close();
    await web.close();
  });

  async function get(host: string, path: string): Promise<{ upstream: string; url: string }> {
    const r = await send(h.port, { host, path });
    assert.equal(r.status, 200, `${host}${path}`);
    return r.json<{ upstream: string; url: string }>();
  }

  test('"/api(/|$)(.*)" + rewrite-target "/$2": the capture is what the upstream gets, with the query', async () => {
    assert.deepEqual(await pick(get('shop.example.com', '/api/v1/items?q=1')), { upstream: 'api', url: '/v1/items?q=1' });
    assert.equal((await get('shop.example.com', '/api')).url, '/');
    assert.equal((await get('shop.example.com', '/api/')).url, '/');
    assert.deepEqual(await pick(get('shop.example.com', '/API/Users')), { upstream: 'api', url: '/Users' }, 'case-insensitive, captures keep their case');
  });

  test('a path the pattern does not match falls to the next pattern, unchanged', async () => {
    assert.deepEqual(await pick(get('shop.example.com', '/apix')), { upstream: 'web', url: '/apix' });
    assert.deepEqual(await pick(get('shop.example.com', '/cart')), { upstream: 'web', url: '/cart' });
  });

  test('another Ingress on the host is matched by prefix patterns: its Exact path is not exact any more (as in ingress-nginx)', async () => {
    assert.deepEqual(await pick(get('shop.example.com', '/healthz')), { upstream: 'web', url: '/healthz' });
    assert.deepEqual(await pick(get('shop.example.com', '/HEALTH')), { upstream: 'web', url: '/HEALTH' });
    // On a host without regex paths the same Exact path keeps the spec's meaning.
    assert.equal((await send(h.port, { host: 'spec.example.com', path: '/healthz' })).status, 404);
    assert.equal((await send(h.port, { host: 'spec.example.com', path: '/health' })).status, 200);
  });

  test('rewrite-target without captures sends every matching path to the target', async () => {
    assert.deepEqual(await pick(get('legacy.example.com', '/old/a/b?x=1')), { upstream: 'api', url: '/?x=1' });
    assert.deepEqual(await pick(get('legacy.example.com', '/oldies')), { upstream: 'api', url: '/' });
  });

  test('use-regex without rewrite: the pattern routes, the path is forwarded as it came', async () => {
    assert.deepEqual(await pick(get('files.example.com', '/img/a/b.PNG')), { upstream: 'api', url: '/img/a/b.PNG' });
    assert.deepEqual(await pick(get('files.example.com', '/img/a/b.gif')), { upstream: 'web', url: '/img/a/b.gif' });
  });

  test('the affinity cookie of a regex route gets Path=/ (the pattern is no cookie path)', async () => {
    const r = await send(h.port, { host: 'files.example.com', path: '/img/x.png' });
    assert.match(String(r.headers['set-cookie']), /^INGRESSCOOKIE=[0-9a-f]+; Path=\/; HttpOnly$/);
  });
});

async function pick(reply: Promise<{ upstream: string; url: string }>): Promise<{ upstream: string; url: string }> {
  const { upstream, url } = await reply;
  return { upstream, url };
}
