import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifest } from '../../../src/sources/file/manifest-parser.ts';
import { normalizeObject } from '../../../src/sources/normalize.ts';

test('multi-document YAML: every kind we read, others ignored, empty documents skipped', () => {
  const text = `
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: switchyard, namespace: ignored}
spec: {controller: switchyard.dev/ingress-controller}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
---
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
endpoints: [{addresses: [127.0.0.1]}]
ports: [{port: 9101}]
`;
  const out = parseManifest(text, false);
  assert.deepEqual(out.problems, []);
  assert.deepEqual(out.objects.map((o) => [o.object.kind, o.object.metadata.namespace, o.object.metadata.name, o.document]), [
    ['IngressClass', '', 'switchyard', 1],
    ['Service', 'default', 'web', 2],
    ['EndpointSlice', 'shop', 'web-1', 5],
  ]);
  assert.deepEqual(out.ignored, [{ document: 3, apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }]);
  assert.ok(Object.isFrozen(out.objects[1].object) && Object.isFrozen(out.objects[1].object.metadata));
  assert.equal(out.objects[0].object.metadata.creationTimestamp, undefined, 'files carry no creationTimestamp');
});

test('a broken document is reported and the others are kept', () => {
  const text = `
apiVersion: v1
kind: Service
metadata: {name: a}
---
apiVersion: v1
kind: Service
metadata: {name: [unclosed
---
apiVersion: v1
kind: Service
metadata: {name: c}
`;
  const out = parseManifest(text, false);
  assert.deepEqual(out.objects.map((o) => o.object.metadata.name), ['a', 'c']);
  assert.equal(out.problems.length, 1);
  assert.equal(out.problems[0].document, 2);
  assert.match(out.problems[0].reason, /invalid YAML/);
});

test('broken objects: reported with a reason, one at a time', () => {
  const text = `
just a string
---
kind: Service
metadata: {name: no-api-version}
---
apiVersion: extensions/v1beta1
kind: Ingress
metadata: {name: old}
---
apiVersion: v1
kind: Service
metadata: {namespace: x}
---
apiVersion: v1
kind: Service
metadata: {name: bad-labels, labels: {a: {b: c}}}
---
- a list
---
apiVersion: v1
kind: Secret
metadata: {name: ok}
`;
  const out = parseManifest(text, false);
  assert.deepEqual(out.objects.map((o) => o.object.metadata.name), ['ok']);
  assert.deepEqual(out.problems.map((p) => [p.document, p.reason]), [
    [1, 'not a Kubernetes object (expected a mapping with apiVersion, kind, metadata)'],
    [2, 'Service no-api-version: unsupported apiVersion "" (expected v1)'],
    [3, 'Ingress old: unsupported apiVersion "extensions/v1beta1" (expected networking.k8s.io/v1)'],
    [4, 'Service: missing metadata.name'],
    [5, 'Service bad-labels: metadata.labels["a"] is not a string'],
    [6, 'not a Kubernetes object (expected a mapping with apiVersion, kind, metadata)'],
  ]);
});

test('JSON files and List objects', () => {
  const list = { apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'a' } }, { kind: 'Service', metadata: { name: 'b' } }] };
  const out = parseManifest(JSON.stringify(list), true);
  assert.deepEqual(out.objects.map((o) => o.object.metadata.name), ['a']);
  assert.match(out.problems[0].reason, /^items\[1\]: Service b: unsupported apiVersion/);
  const bad = parseManifest('{"apiVersion":', true);
  assert.match(bad.problems[0].reason, /^invalid JSON/);
});

test('YAML alias bombs are refused', () => {
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]', 'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]'].join('\n');
  const out = parseManifest(bomb, false);
  assert.equal(out.objects.length, 0);
  assert.equal(out.problems.length, 1);
});

test('normalize: Dates, managedFields, namespaces, annotation scalars, undefined', () => {
  const created = new Date('2024-05-01T10:00:00Z');
  const r = normalizeObject({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: 'x', namespace: '', creationTimestamp: created, managedFields: [{ manager: 'kubectl' }], annotations: { 'nginx.ingress.kubernetes.io/ssl-redirect': false, n: 10 }, uid: undefined },
    spec: { rules: [{ host: 'a.test' }], tls: undefined },
  });
  assert.ok(r.ok);
  assert.deepEqual(r.object, {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: 'x', namespace: 'default', creationTimestamp: '2024-05-01T10:00:00Z', annotations: { 'nginx.ingress.kubernetes.io/ssl-redirect': 'false', n: '10' } },
    spec: { rules: [{ host: 'a.test' }] },
  });
  const list = normalizeObject({ metadata: { name: 'c' } }, 'IngressClass');
  assert.ok(list.ok);
  assert.equal(list.object.kind, 'IngressClass');
  assert.equal(list.object.metadata.namespace, '');
  assert.deepEqual(normalizeObject(null), { ok: false, reason: 'not an object' });
  assert.deepEqual(normalizeObject({ kind: 'Service', metadata: { name: 'a', namespace: 5 } }), { ok: false, reason: 'metadata.namespace is not a string' });
});
