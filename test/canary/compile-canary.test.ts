// translate + compile: request tables {host, path, headers, random, expect} over the golden
// fixtures, i.e. what the proxy decides per request (RouteTable.find, then the route's compiled
// canary rule on rawHeaders), with the weighted draw's random value injected per row.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { compile } from '../../src/compile/compile.ts';
import type { EndpointSlice, KubeObject } from '../../src/model/kube.ts';
import { translate } from '../../src/translate/translate.ts';
import { DEFAULT_TEST_OPTIONS, snapshotOf } from '../translate/fixture.ts';

function load(name: string): KubeObject[] {
  const text = readFileSync(join(import.meta.dirname, 'fixtures', `${name}.in.yaml`), 'utf8');
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

interface Row {
  readonly host: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  /** The weighted draw's random value in [0, 1) (default 0.999: no weighted canary). */
  readonly random?: number;
  /** Upstream key that serves, or null for 404. */
  readonly expect: string | null;
}

function run(objects: readonly KubeObject[], rows: readonly Row[]): void {
  const { config } = translate(snapshotOf(objects), DEFAULT_TEST_OPTIONS);
  let next = 0.999;
  const table = compile(config, { canaryRandom: () => next });
  for (const row of rows) {
    next = row.random ?? 0.999;
    const route = table.find(row.host, row.path);
    const raw = Object.entries(row.headers ?? {}).flat();
    const canary = route?.canaryRule?.decideRaw(raw) ?? null;
    const upstream = route === undefined ? null : (canary?.upstream ?? route.upstream)?.key ?? null;
    assert.equal(upstream, row.expect, `${row.host}${row.path} ${JSON.stringify(row.headers ?? {})} random=${row.random ?? '-'}`);
  }
}

const V1 = 'shop/web-v1:80';
const V2 = 'shop/web-v2:80';
const H = 'shop.example.com';

describe('canary request tables', () => {
  it('canary-header-cookie', () => {
    run(load('canary-header-cookie'), [
      { host: H, path: '/value', headers: { 'X-Version': 'v2' }, expect: V2 },
      { host: H, path: '/value/deeper', headers: { 'x-version': 'v2' }, expect: V2 },
      { host: H, path: '/value', headers: { 'X-Version': 'V2' }, expect: V1 },
      { host: H, path: '/value', headers: { 'X-Version': 'always' }, expect: V1 },
      { host: H, path: '/pattern', headers: { 'X-User': 'alice' }, expect: V2 },
      { host: H, path: '/pattern', headers: { 'X-User': 'mallory' }, expect: V1 },
      { host: H, path: '/always', headers: { 'X-Canary': 'always' }, expect: V2 },
      { host: H, path: '/always', headers: { 'X-Canary': 'never' }, random: 0, expect: V1 },
      { host: H, path: '/always', random: 0.049, expect: V2 }, // weight 5: r = 4 < 5
      { host: H, path: '/always', random: 0.05, expect: V1 },
      { host: H, path: '/always/', headers: { 'X-Canary': 'always' }, expect: null }, // Exact route: 404
      { host: H, path: '/cookie', headers: { Cookie: 'canary=always' }, expect: V2 },
      { host: H, path: '/cookie', headers: { Cookie: 'canary=never' }, expect: V1 },
      { host: H, path: '/cookie', headers: { Cookie: 'other=always' }, expect: V1 },
      { host: 'other.example.com', path: '/cookie', headers: { Cookie: 'canary=always' }, expect: null },
    ]);
  });

  it('canary-several: cumulative slices 50/30/20 of 100, oldest first', () => {
    const V3 = 'team/web-v3:80';
    const V4 = 'shop/web-v4:80';
    run(load('canary-several'), [
      { host: H, path: '/', random: 0, expect: V2 },
      { host: H, path: '/', random: 0.4999, expect: V2 },
      { host: H, path: '/', random: 0.5, expect: V3 },
      { host: H, path: '/', random: 0.7999, expect: V3 },
      { host: H, path: '/', random: 0.8, expect: V4 },
      { host: H, path: '/', random: 0.9999, expect: V4 }, // capped weights fill the whole range: main gets nothing
      { host: H, path: '/', headers: { 'X-Newest': 'always' }, random: 0, expect: V4 },
      { host: H, path: '/', headers: { Cookie: 'middle=always' }, random: 0, expect: V3 },
      { host: H, path: '/', headers: { Cookie: 'middle=never' }, random: 0.6, expect: V1 }, // draw lands on ruled-out a-middle
      { host: H, path: '/', headers: { 'X-Newest': 'never' }, random: 0.9, expect: V1 },
    ]);
  });

  it('canary-bad-values: fallbacks per request', () => {
    run(load('canary-bad-values'), [
      { host: H, path: '/weight', random: 0, expect: V1 }, // weight "ten" -> 0
      { host: H, path: '/header', headers: { '': 'always' }, random: 0, expect: V1 }, // no header rule, weight -5 -> 0
      { host: H, path: '/pattern', headers: { 'X-User': 'x' }, random: 0, expect: V1 }, // invalid pattern: main, no weight
      { host: H, path: '/pattern', random: 0.1, expect: V2 }, // no header: weight 20 decides
      { host: H, path: '/above', random: 0.999, expect: V2 }, // 15 of 10 capped to 10: always
    ]);
  });

  it('a canary without a ready endpoint is left out: its share and its rules go to main', () => {
    const objects = load('canary-weight').map((o) =>
      o.kind === 'EndpointSlice' && o.metadata.name === 'web-v2-1'
        ? ({ ...o, endpoints: [{ addresses: ['10.0.0.2'], conditions: { ready: false, serving: false } }] } as EndpointSlice)
        : o,
    );
    run(objects, [{ host: H, path: '/', random: 0, expect: V1 }]);
    run(load('canary-weight'), [{ host: H, path: '/', random: 0, expect: V2 }]);
  });
});
