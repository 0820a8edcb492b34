import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../../src/compile/compile.ts';
import { routeConfig } from './config-builder.ts';

// Request tables: {host, path, expect} where expect is a route path label, "default:<upstream>",
// "host-default:<upstream>" or null (404). Paths are already normalized (see path.test.ts).
const config = routeConfig({
  hosts: [
    {
      host: 'shop.example.com',
      routes: [
        { path: '/', upstream: 'shop/root:80', name: 'root' },
        { path: '/foo', upstream: 'shop/foo:80', name: 'prefix-foo' },
        { path: '/foo', type: 'Exact', upstream: 'shop/foo-exact:80', name: 'exact-foo' },
        { path: '/foo/bar/', upstream: 'shop/foobar:80', name: 'prefix-foo-bar-slash' },
        { path: '/api/v1', type: 'ImplementationSpecific', upstream: 'shop/api:80', name: 'is-api-v1' },
        { path: '/Case', type: 'Exact', upstream: 'shop/case:80', name: 'exact-Case' },
        { path: '/trail/', type: 'Exact', upstream: 'shop/trail:80', name: 'exact-trail-slash' },
      ],
    },
    {
      host: 'nodefault.example.com',
      routes: [{ path: '/only', upstream: 'a/only:80', name: 'only' }],
    },
    {
      host: 'hd.example.com',
      routes: [{ path: '/x', type: 'Exact', upstream: 'a/x:80', name: 'hd-x' }],
      defaultBackend: 'a/hostdefault:80',
    },
    {
      host: '*.example.com',
      routes: [{ path: '/', upstream: 'wild/all:80', name: 'wild-root' }],
    },
    {
      host: '*',
      routes: [
        { path: '/any', upstream: 'any/any:80', name: 'any' },
        { path: '/unresolved', upstream: null, name: 'unresolved' },
      ],
    },
  ],
  defaultBackend: 'default/backend:80',
});

const table = compile(config, { random: () => 0 });

function decide(host: string | undefined, path: string): string | null {
  const route = table.find(host, path);
  if (route === undefined) return null;
  if (route.kind === 'default') return `default:${route.backend.upstream}`;
  if (route.kind === 'host-default') return `host-default:${route.backend.upstream}`;
  return route.name;
}

const cases: { host: string | undefined; path: string; expect: string | null }[] = [
  // Prefix is element-wise; "/" matches everything.
  { host: 'shop.example.com', path: '/', expect: 'root' },
  { host: 'shop.example.com', path: '/foo/', expect: 'prefix-foo' },
  { host: 'shop.example.com', path: '/foo/baz', expect: 'prefix-foo' },
  { host: 'shop.example.com', path: '/foobar', expect: 'root' },
  // Exact beats Prefix at equal length; Exact is case- and slash-sensitive.
  { host: 'shop.example.com', path: '/foo', expect: 'exact-foo' },
  { host: 'shop.example.com', path: '/FOO', expect: 'root' },
  { host: 'shop.example.com', path: '/Case', expect: 'exact-Case' },
  { host: 'shop.example.com', path: '/case', expect: 'root' },
  { host: 'shop.example.com', path: '/Case/', expect: 'root' },
  { host: 'shop.example.com', path: '/trail/', expect: 'exact-trail-slash' },
  { host: 'shop.example.com', path: '/trail', expect: 'root' },
  // Longest prefix wins; a Prefix "/foo/bar/" also matches "/foo/bar".
  { host: 'shop.example.com', path: '/foo/bar', expect: 'prefix-foo-bar-slash' },
  { host: 'shop.example.com', path: '/foo/bar/', expect: 'prefix-foo-bar-slash' },
  { host: 'shop.example.com', path: '/foo/bar/baz/qux', expect: 'prefix-foo-bar-slash' },
  { host: 'shop.example.com', path: '/foo/barbaz', expect: 'prefix-foo' },
  // ImplementationSpecific = Prefix.
  { host: 'shop.example.com', path: '/api/v1/users', expect: 'is-api-v1' },
  { host: 'shop.example.com', path: '/api/v10', expect: 'root' },
  // Host normalization: case, port, trailing dot.
  { host: 'SHOP.Example.COM', path: '/foo', expect: 'exact-foo' },
  { host: 'shop.example.com:8080', path: '/foo', expect: 'exact-foo' },
  { host: 'shop.example.com.', path: '/foo', expect: 'exact-foo' },
  { host: 'Shop.Example.Com.:443', path: '/foo', expect: 'exact-foo' },
  // Wildcard: exactly one extra label; exact beats wildcard.
  { host: 'a.example.com', path: '/foo', expect: 'wild-root' },
  { host: 'A.Example.com:80', path: '/', expect: 'wild-root' },
  { host: 'a.b.example.com', path: '/any', expect: 'any' },
  { host: 'example.com', path: '/any', expect: 'any' },
  { host: '.example.com', path: '/any', expect: 'any' },
  // No fallback from a chosen host to a less specific one: vhost without match -> table default.
  { host: 'nodefault.example.com', path: '/only/x', expect: 'only' },
  { host: 'nodefault.example.com', path: '/any', expect: 'default:default/backend:80' },
  // Virtual host's own default backend comes before the table's.
  { host: 'hd.example.com', path: '/x', expect: 'hd-x' },
  { host: 'hd.example.com', path: '/y', expect: 'host-default:a/hostdefault:80' },
  // Any-host rules; missing Host; IPv6 literal Host.
  { host: 'other.org', path: '/any/thing', expect: 'any' },
  { host: undefined, path: '/any', expect: 'any' },
  { host: '', path: '/any', expect: 'any' },
  { host: '[::1]:8080', path: '/any', expect: 'any' },
  { host: '127.0.0.1:8080', path: '/nothing', expect: 'default:default/backend:80' },
  { host: 'other.org', path: '/unresolved', expect: 'unresolved' },
];

test('request decisions (host, path -> route)', () => {
  for (const c of cases) {
    assert.equal(decide(c.host, c.path), c.expect, `${c.host} ${c.path}`);
  }
});

test('no default backend -> undefined (404)', () => {
  const t = compile(routeConfig({ hosts: [{ host: 'a.test', routes: [{ path: '/a', upstream: 'x/a:80' }] }] }));
  assert.equal(t.find('a.test', '/b'), undefined);
  assert.equal(t.find('b.test', '/a'), undefined);
  assert.equal(t.find('a.test', '/a/b')?.backend.upstream, 'x/a:80');
});

test('an unresolved backend compiles to a route with upstream null (503)', () => {
  const route = table.find('x.org', '/unresolved');
  assert.ok(route);
  assert.equal(route.upstream, null);
});

test('IR order is honoured even when it is not longest-first', () => {
  // Deliberately unsorted IR: the first matching route in IR order must win.
  const t = compile(
    routeConfig({
      unsorted: true,
      hosts: [
        {
          host: 'h.test',
          routes: [
            { path: '/', upstream: 'x/root:80', name: 'root-first' },
            { path: '/a/b', upstream: 'x/ab:80', name: 'ab' },
            { path: '/a', type: 'Exact', upstream: 'x/a:80', name: 'exact-a' },
          ],
        },
        {
          host: 'k.test',
          routes: [
            { path: '/a', upstream: 'x/a:80', name: 'prefix-a' },
            { path: '/a/b', type: 'Exact', upstream: 'x/ab:80', name: 'exact-ab' },
            { path: '/a/b/c', upstream: 'x/abc:80', name: 'prefix-abc' },
          ],
        },
      ],
    }),
  );
  assert.equal(t.find('h.test', '/a/b/c')?.name, 'root-first');
  assert.equal(t.find('h.test', '/a')?.name, 'root-first');
  assert.equal(t.find('k.test', '/a/b')?.name, 'prefix-a');
  assert.equal(t.find('k.test', '/a/b/c/d')?.name, 'prefix-a');
  assert.equal(t.find('k.test', '/x'), undefined);
});

test('deep paths beyond the longest prefix still find short prefixes', () => {
  const t = compile(
    routeConfig({
      hosts: [{ host: '*', routes: [{ path: '/a', upstream: 'x/a:80', name: 'a' }, { path: '/abc/def', upstream: 'x/b:80', name: 'abcdef' }] }],
    }),
  );
  assert.equal(t.find('h', '/a/very/long/path/with/many/segments')?.name, 'a');
  assert.equal(t.find('h', '/abc/def/ghi/jkl')?.name, 'abcdef');
  assert.equal(t.find('h', '/abc/defg'), undefined);
  assert.equal(t.find('h', '/abcdefgh/ij'), undefined);
  assert.equal(t.find('h', '/ab'), undefined);
});

test('upstream endpoints: round robin over ready, fallback to serving+terminating, else none', () => {
  const t = compile(
    routeConfig({
      hosts: [],
      upstreams: [
        {
          key: 'ns/mixed:80',
          endpoints: [
            { address: '10.0.0.1', port: 80 },
            { address: '10.0.0.2', port: 80, ready: false, serving: false },
            { address: '10.0.0.3', port: 80 },
            { address: '10.0.0.4', port: 80, ready: false, serving: true, terminating: true },
          ],
        },
        {
          key: 'ns/terminating:80',
          endpoints: [
            { address: '10.0.1.1', port: 80, ready: false, serving: true, terminating: true },
            { address: '10.0.1.2', port: 80, ready: false, serving: false, terminating: true },
          ],
        },
        { key: 'ns/none:80', endpoints: [{ address: '10.0.2.1', port: 80, ready: false, serving: false }] },
        { key: 'ns/v6:8080', endpoints: [{ address: 'fd00::1', port: 8080 }] },
      ],
    }),
    { random: () => 0 },
  );
  const mixed = t.upstreams.get('ns/mixed:80')!;
  assert.deepEqual([1, 2, 3, 4].map(() => mixed.pick()?.address), ['10.0.0.1', '10.0.0.3', '10.0.0.1', '10.0.0.3']);
  const term = t.upstreams.get('ns/terminating:80')!;
  assert.deepEqual([1, 2].map(() => term.pick()?.address), ['10.0.1.1', '10.0.1.1']);
  assert.equal(t.upstreams.get('ns/none:80')!.pick(), undefined);
  assert.equal(t.upstreams.get('ns/v6:8080')!.pick()?.origin, 'http://[fd00::1]:8080');
});

test('round-robin position carries over to the next table', () => {
  const cfg = routeConfig({
    hosts: [],
    upstreams: [{ key: 'ns/s:80', endpoints: [{ address: '10.0.0.1', port: 80 }, { address: '10.0.0.2', port: 80 }, { address: '10.0.0.3', port: 80 }] }],
  });
  const t1 = compile(cfg, { random: () => 0 });
  assert.equal(t1.upstreams.get('ns/s:80')!.pick()?.address, '10.0.0.1');
  const t2 = compile(cfg, { previous: t1 });
  assert.equal(t2.generation, t1.generation + 1);
  assert.equal(t2.upstreams.get('ns/s:80')!.pick()?.address, '10.0.0.2');
});

test('generation increases across compiles', () => {
  const a = compile(routeConfig({ hosts: [] }));
  const b = compile(routeConfig({ hosts: [] }));
  assert.ok(b.generation > a.generation);
  assert.equal(compile(routeConfig({ hosts: [] }), { generation: 1000 }).generation, 1000);
});
