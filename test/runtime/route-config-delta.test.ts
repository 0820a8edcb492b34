// RouteConfig deltas for --workers (src/runtime/route-config-delta.ts): applying the JSON of a
// delta to the previous config gives exactly the next config (additions, changes, removals,
// reorders, certificates, defaults), keeps the previous objects of unchanged items (so compile's
// reuse works in the worker), and a delta against the wrong base is refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import type { RouteConfig, TlsCertificate, Upstream, VirtualHost } from '../../src/model/route-config.ts';
import { applyList, applyRouteConfigDelta, diffList, diffRouteConfig, type RouteConfigDelta } from '../../src/runtime/route-config-delta.ts';
import { seededRandom } from '../canary/helpers.ts';
import { routeConfig } from '../compile/config-builder.ts';

/** What the worker does: the delta crosses IPC as JSON. */
function overIpc(previous: RouteConfig, next: RouteConfig): RouteConfig {
  return applyRouteConfigDelta(previous, JSON.parse(JSON.stringify(diffRouteConfig(previous, next))) as RouteConfigDelta);
}

/** What a full snapshot gives (JSON drops undefined fields the same way). */
function full(config: RouteConfig): RouteConfig {
  return JSON.parse(JSON.stringify(config)) as RouteConfig;
}

const hosts = ['a.test', 'b.test', 'c.test', 'd.test', '*.w.test', '*'];
function config(names: readonly string[], upstreamKeys: readonly string[] = ['ns/s1:80', 'ns/s2:80']): RouteConfig {
  return routeConfig({
    hosts: names.map((host) => ({ host, routes: [{ path: '/', upstream: 'ns/s1:80' }] })),
    upstreams: upstreamKeys.map((key) => ({ key, endpoints: [{ address: '10.0.0.1', port: 8080 }] })),
  });
}

function cert(secret: string): TlsCertificate {
  return { secret, hosts: [`${secret}.test`], certificate: `CERT ${secret}`, key: `KEY ${secret}` };
}

test('diffList/applyList: copy runs for kept items, the items themselves for new ones', () => {
  const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((name) => ({ name }));
  assert.deepEqual(diffList([a, b, c, d], [a, b, c, d]), [[0, 4]], 'unchanged: one run');
  assert.deepEqual(diffList([a, b, c, d], [a, c, d]), [[0, 1], [2, 2]], 'removal');
  assert.deepEqual(diffList([a, b, c, d], [d, a, b, c]), [[3, 1], [0, 3]], 'reorder');
  assert.deepEqual(diffList([a, b, c, d], [a, e, b, c, d]), [[0, 1], e, [1, 3]], 'insertion');
  assert.deepEqual(diffList([], [a]), [a]);
  assert.deepEqual(diffList([a], []), []);
  const next = applyList([a, b, c, d], [[3, 1], e, [0, 2]]);
  assert.deepEqual(next, [d, e, a, b]);
  assert.equal(next[0], d, 'copied items are the previous objects');
  assert.throws(() => applyList([a, b], [[1, 2]]), RangeError, 'a run past the end: wrong base');
  assert.throws(() => applyList([a, b], [[-1, 1]]), RangeError);
});

test('applying a delta gives the next config: changed host, removal, reorder, new upstream, certificates, defaults', () => {
  const previous: RouteConfig = { ...config(['a.test', 'b.test', 'c.test', '*']), certificates: [cert('one'), cert('two')] };
  const [a, , c, any] = previous.virtualHosts;
  const changedB = config(['b.test'], []).virtualHosts[0]!;
  const [dHost] = config(['d.test'], []).virtualHosts;
  const upstreams: Upstream[] = [previous.upstreams[0]!, { ...previous.upstreams[1]!, endpoints: [] }, config([], ['ns/s3:80']).upstreams[0]!];
  const cases: [string, RouteConfig][] = [
    ['nothing changed', { ...previous }],
    ['one host changed', { ...previous, virtualHosts: [a!, changedB, c!, any!] }],
    ['a host removed, one added, reordered', { ...previous, virtualHosts: [dHost!, c!, a!, any!] }],
    ['upstreams changed and added', { ...previous, upstreams }],
    ['everything removed', { virtualHosts: [], upstreams: [], defaultBackend: null }],
    ['certificates changed, default certificate and backend set', { ...previous, certificates: [cert('two'), cert('three')], defaultCertificate: cert('default'), defaultBackend: { service: { namespace: 'ns', name: 's1', port: 80 }, upstream: 'ns/s1:80' } }],
  ];
  for (const [name, next] of cases) {
    const patched = overIpc(previous, next);
    assert.deepEqual(patched, full(next), name);
    for (const vhost of patched.virtualHosts) {
      const before = previous.virtualHosts.find((v) => v === vhost || v.host === vhost.host);
      const kept = next.virtualHosts.includes(before!);
      if (kept) assert.equal(vhost, before, `${name}: unchanged ${vhost.host} is the previous object`);
    }
  }
  // And back: removing the certificates and the default certificate again.
  const withCerts = { ...previous, defaultCertificate: cert('default') };
  assert.deepEqual(overIpc(withCerts, config(['a.test'])), full(config(['a.test'])));
});

test('random sequences of changes: every patched config equals the full one, chained over 200 generations', () => {
  const random = seededRandom(8);
  const pool = new Map<string, VirtualHost>();
  for (const [i, vhost] of config(hosts).virtualHosts.entries()) pool.set(hosts[i]!, vhost);
  let primary = config(hosts); // what the primary published
  let worker = full(primary); // what the worker holds (from a first full snapshot)
  for (let generation = 0; generation < 200; generation++) {
    const virtualHosts = primary.virtualHosts.filter(() => random() > 0.15);
    for (const host of hosts) {
      if (random() < 0.2 && !virtualHosts.some((v) => v.host === host)) virtualHosts.splice(Math.floor(random() * (virtualHosts.length + 1)), 0, config([host], []).virtualHosts[0]!);
    }
    if (random() < 0.3) virtualHosts.reverse();
    for (let i = 0; i < virtualHosts.length; i++) if (random() < 0.1) virtualHosts[i] = config([virtualHosts[i]!.host], []).virtualHosts[0]!;
    const upstreams = random() < 0.5 ? primary.upstreams : config([], ['ns/s1:80', 'ns/s2:80', 'ns/s3:80'].filter(() => random() > 0.3)).upstreams;
    const next: RouteConfig = { virtualHosts, upstreams, defaultBackend: null, ...(random() < 0.3 ? { certificates: [cert(`c${generation % 3}`)] } : {}) };
    // The primary diffs its own objects; the worker applies to ITS objects (parsed from JSON).
    const delta = JSON.parse(JSON.stringify(diffRouteConfig(primary, next))) as RouteConfigDelta;
    worker = applyRouteConfigDelta(worker, delta);
    assert.deepEqual(worker, full(next), `generation ${generation}`);
    primary = next;
  }
});

test('the worker compiles a patched config reusing the unchanged compiled hosts', () => {
  const previous = config(['a.test', 'b.test', 'c.test']);
  const held = full(previous); // the worker's copy
  const table = compile(held, { generation: 1 });
  const next = { ...previous, virtualHosts: [previous.virtualHosts[0]!, config(['b.test'], ['ns/s1:80']).virtualHosts[0]!, previous.virtualHosts[2]!] };
  // The delta is built against the primary's objects but applied to the worker's own: the
  // primary's `previous` and the worker's `held` hold the same items at the same indexes.
  const applied = applyRouteConfigDelta(held, JSON.parse(JSON.stringify(diffRouteConfig(previous, next))) as RouteConfigDelta);
  assert.deepEqual(applied, full(next));
  const nextTable = compile(applied, { previous: table, generation: 2 });
  assert.equal(nextTable.compiledHosts[0], table.compiledHosts[0], 'a.test reused');
  assert.notEqual(nextTable.compiledHosts[1], table.compiledHosts[1], 'b.test rebuilt');
  assert.equal(nextTable.compiledHosts[2], table.compiledHosts[2], 'c.test reused');
});
