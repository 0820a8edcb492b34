// Canary attach through the real translate(): golden files test/canary/fixtures/<case>.in.yaml ->
// <case>.out.yaml (regenerate: ./node_modules/.bin/node --test --test-update-snapshots
// test/canary/translate-canary.test.ts, then review the diff), input-order and creation-order
// independence, and updates of either Ingress (translate of the before and after snapshots).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Ingress, KubeObject } from '../../src/model/kube.ts';
import type { Route, TranslateResult } from '../../src/model/route-config.ts';
import { translate } from '../../src/translate/translate.ts';
import { DEFAULT_TEST_OPTIONS, serializeResult, snapshotOf } from '../translate/fixture.ts';
import { NGINX } from './helpers.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const cases = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.in.yaml'))
  .map((f) => f.slice(0, -'.in.yaml'.length))
  .sort();

function load(name: string): KubeObject[] {
  const text = readFileSync(join(FIXTURES, `${name}.in.yaml`), 'utf8');
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

function run(objects: readonly KubeObject[]): TranslateResult {
  return translate(snapshotOf(objects), DEFAULT_TEST_OPTIONS);
}

function routeOf(result: TranslateResult, name: string): Route {
  for (const vh of result.config.virtualHosts) for (const r of vh.routes) if (r.name === name) return r;
  assert.fail(`no route ${name}`);
}

function reasons(result: TranslateResult): string[] {
  return result.diagnostics.map((d) => `${d.object.namespace}/${d.object.name}:${d.reason}`);
}

describe('canary golden files', () => {
  for (const name of cases) {
    it(name, (t) => {
      t.assert.fileSnapshot(run(load(name)), join(FIXTURES, `${name}.out.yaml`), { serializers: [serializeResult] });
    });
  }
});

describe('canary attach does not depend on input order', () => {
  for (const name of cases) {
    it(name, () => {
      const objects = load(name);
      const expected = run(objects);
      for (const shuffled of [[...objects].reverse(), [...objects.slice(1), objects[0]]]) {
        const raw = { ...snapshotOf([]), ingresses: shuffled.filter((o): o is Ingress => o.kind === 'Ingress') };
        const full = { ...snapshotOf(shuffled), ingresses: raw.ingresses };
        assert.deepEqual(translate(full, DEFAULT_TEST_OPTIONS), expected);
      }
    });
  }
});

function withTimestamp(objects: KubeObject[], name: string, creationTimestamp: string): KubeObject[] {
  return objects.map((o) => (o.kind === 'Ingress' && o.metadata.name === name ? { ...o, metadata: { ...o.metadata, creationTimestamp } } : o));
}

function withAnnotations(objects: KubeObject[], name: string, annotations: Record<string, string>): KubeObject[] {
  return objects.map((o) => (o.kind === 'Ingress' && o.metadata.name === name ? { ...o, metadata: { ...o.metadata, annotations } } : o));
}

describe('creation order', () => {
  it('a canary created before its main Ingress attaches the same way', () => {
    const objects = load('canary-weight');
    const after = run(objects);
    const before = run(withTimestamp(objects, 'web-canary', '2023-06-01T00:00:00Z'));
    assert.deepEqual(routeOf(before, 'ingress/shop/web/rule/0/path/0').canaries, routeOf(after, 'ingress/shop/web/rule/0/path/0').canaries);
    assert.equal(routeOf(before, 'ingress/shop/web/rule/0/path/0').canaries.length, 1);
    assert.deepEqual(before.config.upstreams, after.config.upstreams);
  });

  it('several canaries are ordered oldest first; swapping timestamps swaps the order', () => {
    const objects = load('canary-several');
    const order = (result: TranslateResult) => routeOf(result, 'ingress/shop/web/rule/0/path/0').canaries.map((c) => `${c.source.name}:${c.weight}`);
    assert.deepEqual(order(run(objects)), ['b-oldest:50', 'a-middle:30', 'c-newest:20']);
    const swapped = withTimestamp(withTimestamp(objects, 'b-oldest', '2024-03-01T00:00:00Z'), 'c-newest', '2024-01-15T00:00:00Z');
    assert.deepEqual(order(run(swapped)), ['c-newest:40', 'a-middle:30', 'b-oldest:30']);
  });

  it('equal timestamps fall back to namespace/name', () => {
    let objects = load('canary-several');
    for (const name of ['a-middle', 'b-oldest', 'c-newest']) objects = withTimestamp(objects, name, '2024-05-01T00:00:00Z');
    const names = routeOf(run(objects), 'ingress/shop/web/rule/0/path/0').canaries.map((c) => `${c.source.namespace}/${c.source.name}`);
    assert.deepEqual(names, ['shop/b-oldest', 'shop/c-newest', 'team/a-middle']);
  });
});

describe('updates of either Ingress', () => {
  const MAIN = 'ingress/shop/web/rule/0/path/0';

  it('changing the canary weight changes only that canary', () => {
    const objects = load('canary-weight');
    for (const weight of ['10', '50', '100', '0']) {
      const result = run(withAnnotations(objects, 'web-canary', { [`${NGINX}canary`]: 'true', [`${NGINX}canary-weight`]: weight }));
      assert.equal(routeOf(result, MAIN).canaries[0].weight, Number(weight));
    }
  });

  it('editing the main Ingress (new backend, extra path) keeps the canary attached', () => {
    const objects = load('canary-weight').map((o) => {
      if (o.kind !== 'Ingress' || o.metadata.name !== 'web') return o;
      return {
        ...o,
        spec: {
          ...o.spec,
          rules: [
            {
              host: 'shop.example.com',
              http: {
                paths: [
                  { path: '/extra', pathType: 'Prefix', backend: { service: { name: 'web-v1', port: { number: 80 } } } },
                  { path: '/', pathType: 'Prefix', backend: { service: { name: 'web-v2', port: { number: 80 } } } },
                ],
              },
            },
          ],
        },
      } as Ingress;
    });
    const result = run(objects);
    const main = routeOf(result, 'ingress/shop/web/rule/0/path/1');
    assert.equal(main.backend.upstream, 'shop/web-v2:80');
    assert.deepEqual(main.canaries.map((c) => c.source.name), ['web-canary']);
    assert.deepEqual(routeOf(result, 'ingress/shop/web/rule/0/path/0').canaries, []);
  });

  it('deleting the main Ingress leaves the canary unattached and reported; re-creating it re-attaches', () => {
    const objects = load('canary-weight');
    const without = run(objects.filter((o) => !(o.kind === 'Ingress' && o.metadata.name === 'web')));
    assert.deepEqual(without.config.virtualHosts, []);
    assert.ok(reasons(without).includes('shop/web-canary:CanaryWithoutMainRoute'));
    assert.ok(!without.config.upstreams.some((u) => u.key === 'shop/web-v2:80'), 'an unattached canary adds no upstream');
    assert.equal(routeOf(run(objects), MAIN).canaries.length, 1);
  });

  it('turning canary off makes the Ingress a normal one (it then conflicts with the main route and loses)', () => {
    const objects = withAnnotations(load('canary-weight'), 'web-canary', { [`${NGINX}canary`]: 'false', [`${NGINX}canary-weight`]: '10' });
    const result = run(objects);
    assert.deepEqual(routeOf(result, MAIN).canaries, []);
    assert.ok(reasons(result).includes('shop/web-canary:CanaryAnnotationWithoutCanary'));
    assert.ok(reasons(result).includes('shop/web-canary:RouteConflict'));
  });

  it('a path change on the canary detaches it', () => {
    const objects = load('canary-weight').map((o) =>
      o.kind === 'Ingress' && o.metadata.name === 'web-canary'
        ? ({ ...o, spec: { ...o.spec, rules: [{ host: 'shop.example.com', http: { paths: [{ path: '/x', pathType: 'Prefix', backend: { service: { name: 'web-v2', port: { number: 80 } } } }] } }] } } as Ingress)
        : o,
    );
    const result = run(objects);
    assert.deepEqual(routeOf(result, MAIN).canaries, []);
    assert.ok(reasons(result).includes('shop/web-canary:CanaryWithoutMainRoute'));
  });
});
