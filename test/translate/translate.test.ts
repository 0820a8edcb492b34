// Golden files: test/translate/fixtures/<case>.in.yaml -> <case>.out.yaml (the TranslateResult as
// YAML). Regenerate with `./node_modules/.bin/node --test --test-update-snapshots test/translate/`
// and review every changed line: the golden files are the spec of the route model.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { KubeObject } from '../../src/model/kube.ts';
import { translate } from '../../src/translate/translate.ts';
import { FIXTURES_DIR, listFixtureCases, loadFixture, serializeResult, snapshotOf } from './fixture.ts';

const cases = listFixtureCases();

describe('translate golden files', () => {
  for (const name of cases) {
    test(name, (t) => {
      const { snapshot, options } = loadFixture(name);
      const result = translate(snapshot, options);
      t.assert.fileSnapshot(result, join(FIXTURES_DIR, `${name}.out.yaml`), { serializers: [serializeResult] });
    });
  }
});

/** Deterministic permutations of a list (no randomness in tests either). */
function permutations<T>(items: readonly T[]): T[][] {
  const reversed = [...items].reverse();
  const rotated = items.length > 1 ? [...items.slice(1), items[0]] : [...items];
  const interleaved = [...items.filter((_, i) => i % 2 === 1), ...items.filter((_, i) => i % 2 === 0)].reverse();
  return [reversed, rotated, interleaved];
}

describe('translate does not depend on input order', () => {
  for (const name of cases) {
    test(name, () => {
      const { objects, snapshot, options } = loadFixture(name);
      const expected = translate(snapshot, options);
      for (const shuffled of permutations(objects)) {
        // Both the object order inside each kind (the snapshot builder sorts, so also bypass it)...
        const unsorted = snapshotOf([]);
        const byKind = (kind: KubeObject['kind']) => shuffled.filter((o) => o.kind === kind);
        const raw = {
          ...unsorted,
          ingresses: byKind('Ingress'),
          ingressClasses: byKind('IngressClass'),
          services: byKind('Service'),
          endpointSlices: byKind('EndpointSlice'),
          secrets: byKind('Secret'),
        } as typeof snapshot;
        assert.deepEqual(translate(raw, options), expected);
        // ...and through the sorted snapshot.
        assert.deepEqual(translate(snapshotOf(shuffled), options), expected);
      }
    });
  }
});

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

describe('translate is pure', () => {
  test('works on a deeply frozen snapshot and does not mutate it', () => {
    for (const name of cases) {
      const { snapshot, options } = loadFixture(name);
      const before = JSON.stringify(snapshot);
      const expected = translate(snapshot, options);
      assert.equal(JSON.stringify(snapshot), before, `${name}: the snapshot was mutated`);
      const frozen = deepFreeze(loadFixture(name));
      assert.deepEqual(translate(frozen.snapshot, frozen.options), expected, name);
    }
  });

  test('the result is plain JSON data (serializable without loss)', () => {
    for (const name of cases) {
      const { snapshot, options } = loadFixture(name);
      const result = translate(snapshot, options);
      assert.deepEqual(JSON.parse(JSON.stringify(result)), result, name);
    }
  });

  test('an empty snapshot gives an empty config', () => {
    const result = translate(snapshotOf([]), loadFixture(cases[0]).options);
    assert.deepEqual(result, { config: { virtualHosts: [], defaultBackend: null, upstreams: [] }, diagnostics: [] });
  });
});

describe('one bad object never costs the others', () => {
  test('an Ingress whose reading throws is skipped with MalformedIngress; the rest is served', () => {
    const { objects, options } = loadFixture('hosts-exact-wildcard-any');
    const exploding = {
      kind: 'Ingress',
      metadata: { name: 'exploding', namespace: 'shop', creationTimestamp: '2020-01-01T00:00:00Z' },
      spec: {
        ingressClassName: 'switchyard',
        get rules(): never {
          throw new Error('boom');
        },
      },
    } as unknown as KubeObject;
    const withBad = [...objects, exploding];
    const { config, diagnostics } = translate(snapshotOf(withBad), options);
    assert.deepEqual(
      diagnostics.map((d) => [d.object.name, d.reason, d.message]),
      [['exploding', 'MalformedIngress', 'the Ingress could not be read (boom); it is skipped']],
    );
    assert.deepEqual(config, translate(snapshotOf(objects), options).config);
  });
});
