import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../../src/store/store.ts';
import type { EndpointSlice, Ingress, IngressClass, Secret, Service } from '../../src/model/kube.ts';

function ingress(name: string, opts: { rv?: string; service?: string; tls?: string; ns?: string; status?: string } = {}): Ingress {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: opts.ns ?? 'default', resourceVersion: opts.rv },
    spec: {
      ...(opts.tls ? { tls: [{ hosts: ['a.test'], secretName: opts.tls }] } : {}),
      rules: [{ host: 'a.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: opts.service ?? 'web', port: { number: 80 } } } }] } }],
    },
    ...(opts.status ? { status: { loadBalancer: { ingress: [{ ip: opts.status }] } } } : {}),
  };
}
function secret(name: string, data = 'x', rv?: string, ns = 'default'): Secret {
  return { kind: 'Secret', metadata: { name, namespace: ns, resourceVersion: rv }, data: { 'tls.crt': data } };
}
function service(name: string, port = 80, ns = 'default'): Service {
  return { kind: 'Service', metadata: { name, namespace: ns }, spec: { ports: [{ port }] } };
}
function slice(name: string, service: string, ip: string, ns = 'default'): EndpointSlice {
  return {
    kind: 'EndpointSlice',
    metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [ip] }],
    ports: [{ port: 8080 }],
  };
}
const klass: IngressClass = { kind: 'IngressClass', metadata: { name: 'switchyard', namespace: '' }, spec: { controller: 'switchyard.dev/ingress-controller' } };

function counting(store: Store): { n: number } {
  const c = { n: 0 };
  store.onChange(() => c.n++);
  return c;
}

test('Ingress upsert is relevant; same resourceVersion and identical content are no-ops', () => {
  const store = new Store();
  const c = counting(store);
  assert.equal(store.apply({ type: 'upsert', object: ingress('a', { rv: '1' }) }), true);
  assert.equal(store.apply({ type: 'upsert', object: ingress('a', { rv: '1', service: 'other' }) }), false, 'same resourceVersion');
  assert.equal(store.apply({ type: 'upsert', object: ingress('a', { rv: '2' }) }), false, 'new rv, same content');
  assert.equal(store.get('Ingress', 'default', 'a')?.metadata.resourceVersion, '2', 'newest object still stored');
  assert.equal(store.apply({ type: 'upsert', object: ingress('a', { rv: '3', status: '10.0.0.1' }) }), false, 'status-only change (our own status write)');
  assert.equal(store.apply({ type: 'upsert', object: ingress('a', { rv: '4', service: 'api' }) }), true);
  assert.equal(c.n, 2);
  assert.deepEqual(store.stats, { relevant: 2, ignored: 3 });
});

test('delete: relevant only when the object existed', () => {
  const store = new Store();
  store.apply({ type: 'upsert', object: ingress('a') });
  assert.equal(store.apply({ type: 'delete', kind: 'Ingress', namespace: 'default', name: 'a' }), true);
  assert.equal(store.apply({ type: 'delete', kind: 'Ingress', namespace: 'default', name: 'a' }), false);
  assert.equal(store.counts().Ingress, 0);
});

test('Secrets matter only when an Ingress TLS section references them', () => {
  const store = new Store();
  const c = counting(store);
  assert.equal(store.apply({ type: 'upsert', object: secret('cert') }), false, 'unreferenced: stored, not relevant');
  assert.equal(store.counts().Secret, 1);
  assert.equal(store.snapshot().secrets.length, 1);
  store.apply({ type: 'upsert', object: ingress('a', { tls: 'cert' }) });
  assert.equal(c.n, 1);
  assert.equal(store.apply({ type: 'upsert', object: secret('cert', 'y') }), true, 'now referenced');
  assert.equal(store.apply({ type: 'upsert', object: secret('cert', 'y', 'rv9') }), false, 'same content');
  assert.equal(store.apply({ type: 'upsert', object: secret('cert', 'y', undefined, 'other') }), false, 'other namespace');
  store.apply({ type: 'upsert', object: ingress('a') }); // TLS removed
  assert.equal(store.apply({ type: 'upsert', object: secret('cert', 'z') }), false, 'no longer referenced');
  assert.equal(store.apply({ type: 'delete', kind: 'Secret', namespace: 'default', name: 'cert' }), false);
});

test('references are counted: two Ingresses, one Secret', () => {
  const store = new Store();
  store.apply({ type: 'upsert', object: ingress('a', { tls: 'cert' }) });
  store.apply({ type: 'upsert', object: ingress('b', { tls: 'cert' }) });
  store.apply({ type: 'delete', kind: 'Ingress', namespace: 'default', name: 'a' });
  assert.equal(store.isSecretReferenced('default', 'cert'), true);
  store.apply({ type: 'delete', kind: 'Ingress', namespace: 'default', name: 'b' });
  assert.equal(store.isSecretReferenced('default', 'cert'), false);
});

test('Services and their EndpointSlices matter only when referenced', () => {
  const store = new Store({ extraServices: [{ namespace: 'infra', name: 'fallback' }] });
  assert.equal(store.apply({ type: 'upsert', object: service('web') }), false);
  assert.equal(store.apply({ type: 'upsert', object: slice('web-1', 'web', '10.0.0.1') }), false);
  store.apply({ type: 'upsert', object: ingress('a', { service: 'web' }) });
  assert.equal(store.apply({ type: 'upsert', object: slice('web-1', 'web', '10.0.0.2') }), true);
  assert.equal(store.apply({ type: 'upsert', object: service('web', 81) }), true);
  assert.equal(store.apply({ type: 'upsert', object: slice('other-1', 'other', '10.0.0.3') }), false);
  assert.equal(store.apply({ type: 'upsert', object: slice('fb-1', 'fallback', '10.0.0.4', 'infra') }), true, '--default-backend-service');
  // A slice that moves away from a referenced Service is relevant (its endpoints leave).
  assert.equal(store.apply({ type: 'upsert', object: slice('web-1', 'other', '10.0.0.2') }), true);
});

test('replace swaps the whole kind and notifies once, only when something differs', () => {
  const store = new Store();
  const c = counting(store);
  assert.equal(store.replace('Ingress', [ingress('a'), ingress('b')]), true);
  assert.equal(c.n, 1);
  assert.equal(store.replace('Ingress', [ingress('b'), ingress('a')]), false, 'same set, other order');
  assert.equal(store.replace('Ingress', [ingress('a')]), true, 'b deleted');
  assert.deepEqual(store.snapshot().ingresses.map((i) => i.metadata.name), ['a']);
  assert.equal(store.replace('Secret', [secret('unused')]), false);
  assert.equal(store.replace('IngressClass', [klass]), true);
  assert.equal(c.n, 3);
  assert.deepEqual(store.counts(), { Ingress: 1, IngressClass: 1, Service: 0, EndpointSlice: 0, Secret: 1 });
});

test('snapshot: sorted by namespace/name, frozen, cached until a change', () => {
  const store = new Store();
  store.apply({ type: 'upsert', object: ingress('b', { ns: 'x', rv: '1' }) });
  store.apply({ type: 'upsert', object: ingress('z', { ns: 'a' }) });
  store.apply({ type: 'upsert', object: ingress('a', { ns: 'x' }) });
  const s1 = store.snapshot();
  assert.deepEqual(s1.ingresses.map((i) => `${i.metadata.namespace}/${i.metadata.name}`), ['a/z', 'x/a', 'x/b']);
  assert.ok(Object.isFrozen(s1) && Object.isFrozen(s1.ingresses));
  assert.equal(store.snapshot(), s1, 'cached');
  store.apply({ type: 'upsert', object: ingress('b', { ns: 'x', rv: '1' }) });
  assert.equal(store.snapshot(), s1, 'a same-resourceVersion no-op keeps the cached snapshot');
});

test('snapshot is rebuilt after a relevant change', () => {
  const store = new Store();
  const s1 = store.snapshot();
  store.apply({ type: 'upsert', object: ingress('a') });
  const s2 = store.snapshot();
  assert.notEqual(s2, s1);
  assert.equal(s2.ingresses.length, 1);
});

test('malformed Ingress shapes never throw in the store', () => {
  const store = new Store();
  const weird = { kind: 'Ingress', metadata: { name: 'w', namespace: 'default' }, spec: { rules: 'nope', tls: [null, { secretName: 5 }] } } as unknown as Ingress;
  assert.equal(store.apply({ type: 'upsert', object: weird }), true);
});

test('Ingresses of another controller: stored, not relevant, unless they move to or from us', async () => {
  const { indexIngressClasses, isIngressOwned } = await import('../../src/translate/ingress-class.ts');
  const options = { ingressClass: 'switchyard', controllerName: 'switchyard.dev/ingress-controller', watchIngressWithoutClass: false, defaultBackendService: null };
  const store = new Store({ isIngressOwned: (i, classes) => isIngressOwned(i, indexIngressClasses(classes, options), options) });
  const nginx: IngressClass = { kind: 'IngressClass', metadata: { name: 'nginx', namespace: '' }, spec: { controller: 'k8s.io/ingress-nginx' } };
  store.replace('IngressClass', [klass, nginx]);
  const withClass = (name: string, cls: string, host: string): Ingress => ({ ...ingress(name), spec: { ...ingress(name).spec, ingressClassName: cls, rules: [{ host }] } });
  assert.equal(store.apply({ type: 'upsert', object: withClass('x', 'nginx', 'a.test') }), false, 'theirs');
  assert.equal(store.apply({ type: 'upsert', object: withClass('x', 'nginx', 'b.test') }), false, 'still theirs');
  assert.equal(store.counts().Ingress, 1, 'stored anyway');
  assert.equal(store.apply({ type: 'upsert', object: withClass('x', 'switchyard', 'b.test') }), true, 'moved to us');
  assert.equal(store.apply({ type: 'upsert', object: withClass('x', 'nginx', 'b.test') }), true, 'moved away from us');
  assert.equal(store.apply({ type: 'delete', kind: 'Ingress', namespace: 'default', name: 'x' }), false, 'theirs deleted');
  assert.equal(store.apply({ type: 'upsert', object: ingress('noclass') }), false, 'no class, no default class, not watching classless');
  // The nginx class is handed to us: relevant (the IngressClass change), and its Ingresses now matter.
  assert.equal(store.apply({ type: 'upsert', object: { ...nginx, spec: { controller: 'switchyard.dev/ingress-controller' } } }), true);
  assert.equal(store.apply({ type: 'upsert', object: withClass('y', 'nginx', 'c.test') }), true);
});
