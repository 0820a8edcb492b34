// The annotation table (src/translate/annotations): value parsers, prefix precedence, diagnostics,
// and the README table generated from it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Diagnostic } from '../../src/model/diagnostic.ts';
import type { ObjectRef } from '../../src/model/kube.ts';
import {
  ANNOTATIONS,
  CANARY,
  CANARY_BY_COOKIE,
  CANARY_BY_HEADER,
  CANARY_BY_HEADER_PATTERN,
  CANARY_BY_HEADER_VALUE,
  CANARY_WEIGHT,
  CANARY_WEIGHT_TOTAL,
  isCanaryKeptAnnotation,
  type AnnotationSpec,
} from '../../src/translate/annotations/annotation-table.ts';
import { findAnnotation, readAnnotation } from '../../src/translate/annotations/read-annotation.ts';
import { NGINX, OURS } from './helpers.ts';

const OBJ: ObjectRef = { kind: 'Ingress', namespace: 'default', name: 'web' };

function read<T>(spec: AnnotationSpec<T>, annotations: Record<string, string> | undefined): { value: T; reasons: string[] } {
  const diagnostics: Diagnostic[] = [];
  const value = readAnnotation(spec, annotations, OBJ, diagnostics);
  return { value, reasons: diagnostics.map((d) => `${d.severity}:${d.reason}`) };
}

/** [raw value, expected parsed value, expected diagnostics] for one annotation, under both prefixes. */
type ValueRow<T> = readonly [string, T, readonly string[]];

function valueTable<T>(spec: AnnotationSpec<T>, rows: readonly ValueRow<T>[]): void {
  describe(`${spec.key} values`, () => {
    it('unset -> default, no diagnostic', () => assert.deepEqual(read(spec, {}), { value: spec.default, reasons: [] }));
    for (const [raw, value, reasons] of rows) {
      for (const prefix of [NGINX, OURS]) {
        it(`${prefix}${spec.key}: ${JSON.stringify(raw)}`, () => {
          assert.deepEqual(read(spec, { [prefix + spec.key]: raw }), { value, reasons });
        });
      }
    }
  });
}

const INVALID = ['error:InvalidAnnotation'];

valueTable(CANARY, [
  ['true', true, []],
  ['True', true, []],
  ['TRUE', true, []],
  ['1', true, []],
  ['t', true, []],
  [' true ', true, []],
  ['false', false, []],
  ['0', false, []],
  ['F', false, []],
  ['yes', false, INVALID],
  ['', false, INVALID],
  ['tRUE', false, INVALID],
]);

valueTable(CANARY_WEIGHT, [
  ['0', 0, []],
  ['10', 10, []],
  ['100', 100, []],
  ['+5', 5, []],
  ['-0', 0, []],
  ['2147483647', 2147483647, []],
  ['2147483648', 0, INVALID],
  ['-1', 0, INVALID],
  ['10.5', 0, INVALID],
  ['1e2', 0, INVALID],
  ['ten', 0, INVALID],
  ['', 0, INVALID],
  ['0x10', 0, INVALID],
]);

valueTable(CANARY_WEIGHT_TOTAL, [
  ['100', 100, []],
  ['1000', 1000, []],
  ['10', 10, []],
  ['1', 1, []],
  ['0', 100, INVALID],
  ['-100', 100, INVALID],
  ['abc', 100, INVALID],
  ['99999999999', 100, INVALID],
]);

valueTable(CANARY_BY_HEADER, [
  ['X-Canary', 'x-canary', []],
  ['x-canary', 'x-canary', []],
  [' X-Canary ', 'x-canary', []],
  ['', null, INVALID],
  ['   ', null, INVALID],
  ['X Canary', null, INVALID],
  ['X-Canary:', null, INVALID],
]);

valueTable(CANARY_BY_HEADER_VALUE, [
  ['v2', 'v2', []],
  ['V2 ', 'V2 ', []], // kept exactly: case-sensitive comparison
  ['', '', []], // empty = not set, as ingress-nginx
]);

valueTable(CANARY_BY_HEADER_PATTERN, [
  ['^v[23]$', '^v[23]$', []],
  ['', '', []],
  ['([', '', INVALID],
  ['(?P<name>x)', '', INVALID], // PCRE-only syntax
]);

valueTable(CANARY_BY_COOKIE, [
  ['canary', 'canary', []],
  ['Canary_Cookie', 'Canary_Cookie', []],
  ['', null, INVALID],
  ['a=b', null, INVALID],
  ['a;b', null, INVALID],
]);

describe('prefix precedence', () => {
  it('switchyard.dev/ wins over nginx.ingress.kubernetes.io/ and a difference is reported', () => {
    const both = { [`${NGINX}canary-weight`]: '10', [`${OURS}canary-weight`]: '50' };
    assert.deepEqual(read(CANARY_WEIGHT, both), { value: 50, reasons: ['warning:AnnotationPrefixConflict'] });
    assert.equal(findAnnotation(both, 'canary-weight')?.key, `${OURS}canary-weight`);
  });

  it('the same value under both prefixes is not a conflict', () => {
    assert.deepEqual(read(CANARY_WEIGHT, { [`${NGINX}canary-weight`]: '10', [`${OURS}canary-weight`]: '10' }), { value: 10, reasons: [] });
  });

  it('an invalid switchyard.dev/ value is not replaced by a valid nginx one (it wins, then falls back to the default)', () => {
    assert.deepEqual(read(CANARY_WEIGHT, { [`${NGINX}canary-weight`]: '10', [`${OURS}canary-weight`]: 'x' }), {
      value: 0,
      reasons: ['warning:AnnotationPrefixConflict', 'error:InvalidAnnotation'],
    });
  });

  it('other prefixes and bare keys are not read', () => {
    assert.deepEqual(read(CANARY_WEIGHT, { 'canary-weight': '10', 'example.com/canary-weight': '10' }), { value: 0, reasons: [] });
    assert.deepEqual(read(CANARY_WEIGHT, undefined), { value: 0, reasons: [] });
  });

  it('the diagnostic names the key as written and the fallback', () => {
    const diagnostics: Diagnostic[] = [];
    readAnnotation(CANARY_WEIGHT, { [`${NGINX}canary-weight`]: 'ten' }, OBJ, diagnostics);
    assert.deepEqual(diagnostics, [
      {
        severity: 'error',
        object: OBJ,
        reason: 'InvalidAnnotation',
        message: `annotation ${NGINX}canary-weight: "ten" is not an integer; ${CANARY_WEIGHT.onInvalid}`,
      },
    ]);
  });
});

describe('the table', () => {
  it('has unique keys, every field filled, defaults that are valid outcomes', () => {
    const keys = ANNOTATIONS.map((s) => s.key);
    assert.equal(new Set(keys).size, keys.length);
    for (const spec of ANNOTATIONS) {
      assert.match(spec.key, /^[a-z0-9-]+$/);
      for (const field of ['values', 'defaultDoc', 'onInvalid', 'doc'] as const) assert.ok(spec[field].length > 0, `${spec.key}.${field}`);
    }
  });

  it('canary-* keys configure the canary; load-balancing/affinity keys are kept; others ignored', () => {
    for (const spec of ANNOTATIONS) {
      const expected = spec.key === 'canary' || spec.key.startsWith('canary-') ? 'canary' : isCanaryKeptAnnotation(spec.key) ? 'kept' : 'ignored';
      assert.equal(spec.onCanary, expected, spec.key);
    }
    for (const key of ['load-balance', 'upstream-hash-by', 'affinity', 'affinity-mode', 'session-cookie-name', 'session-cookie-max-age']) {
      assert.ok(isCanaryKeptAnnotation(key), key);
    }
    for (const key of ['rewrite-target', 'ssl-redirect', 'canary', 'proxy-read-timeout']) assert.ok(!isCanaryKeptAnnotation(key), key);
  });
});
