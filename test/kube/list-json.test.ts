// readListJson must agree with JSON.parse: the same items and members for valid JSON, an error for
// anything JSON.parse refuses (its pieces are parsed by JSON.parse; the separators are its own).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotAListError, readListJson } from '../../src/sources/kube/list-json.ts';

function read(text: string): { members: Record<string, unknown>; items: unknown[] } {
  const items: unknown[] = [];
  const members = readListJson(text, (item) => items.push(item));
  return { members, items };
}

const VALID: readonly string[] = [
  '{"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"12","continue":"abc"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}',
  '{}',
  '{"items":[]}',
  '{"items":null,"metadata":{}}',
  '{"items":[ ]}',
  ' \n\t{ "metadata" : { "resourceVersion" : "1" } , "items" : [ { "a" : [ 1 , 2 , { "b" : "]}" } ] } , 3 , "x" , true , null , -1.5e3 ] } \r\n',
  // quotes, backslashes and brackets inside strings do not end or open anything
  '{"items":[{"s":"a \\"quoted\\" } ] { [ value"},{"t":"ends with a backslash \\\\"},{"u":"\\\\\\"still inside\\\\"}]}',
  '{"items":[{"unicode":"\\u00e9\\u2028 caf\u00e9 \ud83d\ude00"}]}',
  // members after items, and a key with escapes
  '{"items":[{"n":1}],"meta\\u0064ata":{"resourceVersion":"7"},"kind":"X"}',
  '{"items":[[1,[2,[3]]],{"deep":{"deeper":{"deepest":[{}]}}}]}',
];

test('valid list texts: the same items and members as JSON.parse', () => {
  for (const text of VALID) {
    const whole = JSON.parse(text) as Record<string, unknown>;
    const { members, items } = read(text);
    assert.deepEqual(items, (whole.items as unknown[] | null | undefined) ?? [], text);
    const rest = { ...whole };
    delete rest.items;
    assert.deepEqual(members, rest, text);
  }
});

const INVALID_JSON: readonly string[] = [
  '',
  '   ',
  '{',
  '{"items":[',
  '{"items":[{"a":1}',
  '{"items":[{"a":1},]}',
  '{"items":[,{"a":1}]}',
  '{"items":[{"a":1} {"b":2}]}',
  '{"items":[{"a":1}]',
  '{"items":[{"a":1}]}}',
  '{"items":[{"a":1}]} x',
  '{"items" [1]}',
  '{items:[1]}',
  '{"items":[1],}',
  '{"metadata":{"a":1},,"items":[]}',
  '{"items":["unterminated]}',
  '{"items":[{"a":1]}]}',
  '{"items":[tru]}',
  '{"items":[01]}',
  '{"metadata":{"a":}}',
  '{"a":"\\x"}',
];

test('text JSON.parse refuses: a SyntaxError', () => {
  for (const text of INVALID_JSON) {
    assert.throws(() => JSON.parse(text), SyntaxError, `JSON.parse should refuse ${JSON.stringify(text)}`);
    assert.throws(() => read(text), SyntaxError, JSON.stringify(text));
  }
});

test('JSON that is not a list: NotAListError', () => {
  for (const text of ['[]', '"x"', '3', 'null', '{"items":{}}', '{"items":"x"}', '{"items":1}', '{"items":[],"items":[]}']) {
    assert.throws(() => read(text), NotAListError, text);
  }
});

test('items are handed over one at a time, in order, as they are read', () => {
  const seen: unknown[] = [];
  assert.throws(() => readListJson('{"items":[{"n":1},{"n":2},{"n":3} oops]}', (item) => seen.push(item)), SyntaxError);
  assert.deepEqual(seen, [{ n: 1 }, { n: 2 }, { n: 3 }]);
});

test('a large list: every item, and the members', () => {
  const list = { kind: 'EndpointSliceList', metadata: { resourceVersion: '99' }, items: Array.from({ length: 2000 }, (_, i) => ({ metadata: { name: `s-${i}`, labels: { x: `"${i}"\\` } }, endpoints: [{ addresses: [`10.0.${i >> 8}.${i & 255}`] }] })) };
  const { members, items } = read(JSON.stringify(list));
  assert.deepEqual(items, list.items);
  assert.deepEqual(members, { kind: 'EndpointSliceList', metadata: { resourceVersion: '99' } });
});
