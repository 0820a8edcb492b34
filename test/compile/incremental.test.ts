// compile({ previous }) takes over what did not change (compile.ts: the incremental path). These
// tests compare every incrementally compiled table with a from-scratch compile of the same config:
// decisions, host index, upstreams, orphan counts, metric series, balancers and passive health.
import assert from 'node:assert/strict';
import test from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { LayeredMap } from '../../src/compile/layered-map.ts';
import type { RouteTable } from '../../src/compile/route-table.ts';
import type { CompiledRoute } from '../../src/compile/compiled-route.ts';
import type { CompiledUpstream } from '../../src/compile/compiled-upstream.ts';
import type { BackendRef, CanaryBackend, Route, RouteBalance, RouteConfig, Upstream, VirtualHost } from '../../src/model/route-config.ts';
import { RouteSeriesSet } from '../../src/observability/route-metrics.ts';
import { Balancing, upstreamChoices } from '../../src/proxy/balancers/balancing.ts';
import { CookieAffinityBalancer } from '../../src/proxy/balancers/cookie-affinity.ts';
import { ConsistentHashBalancer } from '../../src/proxy/balancers/consistent-hash.ts';
import { EwmaBalancer } from '../../src/proxy/balancers/ewma.ts';
import { RoundRobinBalancer } from '../../src/proxy/balancers/round-robin.ts';
import { seededRandom } from '../canary/helpers.ts';


const HOSTS = ['a.test', 'b.test', 'c.test', 'd.test', 'e.test', 'f.test', 'x.example.com', '*.example.com', '*.test', '*'];
const KEYS = ['ns/s0:80', 'ns/s1:80', 'ns/s2:80', 'ns/s3:80', 'ns/s4:80', 'ns/s5:80', 'ns/gone:80'];
const PATHS = ['/', '/api', '/api/v1', '/static'];
const BALANCES: readonly (RouteBalance | undefined)[] = [undefined, undefined, undefined, { policy: 'ewma' }, { policy: 'round_robin', hashBy: '$request_uri' }];

function backendOf(key: string | null): BackendRef {
  if (key === null) return { service: null, upstream: null };
  const [nsName, port] = key.split(':');
  const [namespace, name] = nsName.split('/');
  return { service: { namespace, name, port: Number(port) }, upstream: key };
}

function kindOf(host: string): VirtualHost['kind'] {
  return host === '*' ? 'any' : host.startsWith('*.') ? 'wildcard' : 'exact';
}

/**
 * A world of IR objects changed one at a time; unchanged ones stay the very same objects (as
 * translate shares them), so compile's identity walk has something to take over.
 */
class World {
  readonly random: () => number;
  readonly hosts = new Map<string, VirtualHost>();
  readonly upstreams = new Map<string, Upstream>();
  defaultBackend: BackendRef | null = null;
  #version = 0;

  constructor(seed: number) {
    this.random = seededRandom(seed);
    for (const key of KEYS.slice(0, 5)) this.setUpstream(key);
    for (const host of HOSTS.slice(0, 6)) this.setHost(host);
  }

  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.random() * list.length)];
  }

  setUpstream(key: string): void {
    const count = Math.floor(this.random() * 4);
    const [nsName, port] = key.split(':');
    const [namespace, service] = nsName.split('/');
    this.upstreams.set(key, {
      key, namespace, service, servicePort: Number(port),
      endpoints: Array.from({ length: count }, (_, i) => {
        const ready = this.random() < 0.8;
        return { address: `10.0.${KEYS.indexOf(key)}.${i + 1}`, port: 8080, ready, serving: ready || this.random() < 0.5, terminating: !ready && this.random() < 0.5 };
      }),
    });
  }

  setHost(host: string): void {
    const v = ++this.#version;
    const routes: Route[] = [];
    for (const path of PATHS) {
      if (this.random() < 0.4) continue;
      const key = this.random() < 0.1 ? null : this.pick(KEYS);
      const canaries: CanaryBackend[] = this.random() < 0.15
        ? [{ source: { kind: 'Ingress', namespace: 'ns', name: `canary-${v}` }, name: `ingress/ns/canary-${v}/rule/0/path/0`, backend: backendOf(this.pick(KEYS)), header: null, cookie: null, weight: 50, weightTotal: 100, ...(this.random() < 0.3 ? { balance: { policy: 'ewma' } as RouteBalance } : {}) }]
        : [];
      const balance = this.pick(BALANCES);
      routes.push({
        name: `ingress/ns/i${v}/rule/0/path/${routes.length}`,
        source: { kind: 'Ingress', namespace: 'ns', name: `i${v}` },
        host, path, pathType: 'Prefix', match: 'prefix', matchPath: path,
        backend: backendOf(key), canaries,
        ...(balance !== undefined ? { balance } : {}),
      });
    }
    routes.sort((a, b) => b.matchPath.length - a.matchPath.length || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const defaultBackend = this.random() < 0.2 ? backendOf(this.pick(KEYS)) : null;
    this.hosts.set(host, { host, kind: kindOf(host), routes, defaultBackend });
  }

  /** One random change. */
  change(): void {
    const r = this.random();
    if (r < 0.35) this.setHost(this.pick(HOSTS));
    else if (r < 0.45) this.hosts.delete(this.pick(HOSTS));
    else if (r < 0.75) this.setUpstream(this.pick(KEYS));
    else if (r < 0.85) this.upstreams.delete(this.pick(KEYS));
    else if (r < 0.95) this.defaultBackend = this.random() < 0.5 ? null : backendOf(this.pick(KEYS));
    // else: nothing (a rebuild of the very same config)
  }

  config(): RouteConfig {
    const rank = { exact: 0, wildcard: 1, any: 2 } as const;
    const virtualHosts = [...this.hosts.values()].sort((a, b) => rank[a.kind] - rank[b.kind] || (a.host < b.host ? -1 : 1));
    const upstreams = [...this.upstreams.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
    return { virtualHosts, upstreams, defaultBackend: this.defaultBackend };
  }
}

function decisions(table: RouteTable): unknown[] {
  const out: unknown[] = [];
  for (const host of [...HOSTS.filter((h) => !h.startsWith('*')), 'y.example.com', 'z.test', 'deep.y.example.com', 'none.org', undefined]) {
    for (const path of ['/', '/api', '/api/v1/x', '/static/a', '/other']) {
      const route = table.find(host, path);
      out.push([
        host, path, route?.name ?? null, route?.kind ?? null, route?.upstream?.key ?? null,
        route?.upstream?.candidates.map((e) => e.origin) ?? null,
        route?.canaryRule?.targets.map((t) => `${t.name} ${(t.upstream as { key: string } | null)?.key}`) ?? null,
      ]);
    }
  }
  return out;
}

/** What observeOrphans counts from the IR. */
function orphansOf(config: RouteConfig): { noService: number; noReadyEndpoint: number } {
  const ready = new Set(config.upstreams.filter((u) => u.endpoints.some((e) => e.ready)).map((u) => u.key));
  let noService = 0;
  let noReadyEndpoint = 0;
  for (const vhost of config.virtualHosts) {
    for (const route of vhost.routes) {
      if (route.backend.upstream === null) noService++;
      else if (!ready.has(route.backend.upstream)) noReadyEndpoint++;
    }
  }
  return { noService, noReadyEndpoint };
}

function balancerKind(balancer: unknown): string {
  if (balancer instanceof CookieAffinityBalancer) return 'affinity';
  if (balancer instanceof ConsistentHashBalancer) return 'hash';
  if (balancer instanceof EwmaBalancer) return 'ewma';
  if (balancer instanceof RoundRobinBalancer) return 'round-robin';
  return String(balancer);
}

function expectedBalancer(choice: RouteBalance | undefined): string {
  if (choice?.affinity !== undefined) return 'affinity';
  if (choice?.hashBy !== undefined) return 'hash';
  if (choice?.policy === 'ewma') return 'ewma';
  return 'round-robin';
}

for (const seed of [1, 2, 3, 4]) {
  test(`incremental compile after random changes equals a from-scratch compile (seed ${seed})`, () => {
    const world = new World(seed);
    const series = new RouteSeriesSet({ enabled: true, statusClass: false });
    let now = 0;
    const balancing = new Balancing({ now: () => now, maxFails: 1, failTimeoutMs: 1_000_000 });
    let table = null as RouteTable | null;
    let incremental = 0;
    let reusedHosts = 0;
    for (let step = 0; step < 150; step++) {
      const changes = 1 + Math.floor(world.random() * 2);
      for (let c = 0; c < changes; c++) world.change();
      const config = world.config();
      const previous: RouteTable | null = table;

      // Passive health state made in the previous table: one endpoint ejected.
      let ejected: { origin: string; health: unknown } | null = null;
      const withEndpoints: CompiledUpstream | undefined = previous === null ? undefined : [...previous.upstreams.values()].find((u) => u.endpoints.length > 1);
      if (withEndpoints !== undefined) {
        const endpoint: CompiledUpstream["endpoints"][number] = withEndpoints.endpoints[0]!;
        if (balancing.health.failure(endpoint.health!, () => true, 'test') || endpoint.health!.ejectedUntil !== 0) ejected = { origin: endpoint.origin, health: endpoint.health };
      }

      const binder = series.binder();
      const next: RouteTable = compile(config, { previous, metrics: binder, balancing, random: () => 0, canaryRandom: () => 0.5 });
      table = next;
      series.commit(binder);
      now += 10_000; // prune runs at most once a minute: let it run now and then
      if (previous !== null && table.canonical && previous.canonical) incremental++;

      const freshSeries = new RouteSeriesSet({ enabled: true, statusClass: false });
      const freshBinder = freshSeries.binder();
      const fresh = compile(config, { metrics: freshBinder, random: () => 0, canaryRandom: () => 0.5 });
      freshSeries.commit(freshBinder);
      const at = `seed ${seed} step ${step}`;

      // 1. Decisions and the host index.
      assert.deepEqual(decisions(table), decisions(fresh), `${at}: decisions`);
      assert.equal(table.hostIndex.size, fresh.hostIndex.size, `${at}: host index size`);
      assert.deepEqual(table.compiledHosts.map((v) => v.host), config.virtualHosts.map((v) => v.host), `${at}: compiled hosts in config order`);
      for (const vhost of table.compiledHosts) assert.equal(table.findVirtualHost(vhost.kind === 'wildcard' ? `w${vhost.host.slice(1)}` : vhost.host === '*' ? 'nowhere.org' : vhost.host)?.host, fresh.findVirtualHost(vhost.kind === 'wildcard' ? `w${vhost.host.slice(1)}` : vhost.host === '*' ? 'nowhere.org' : vhost.host)?.host, `${at}: ${vhost.host}`);

      // 2. Upstreams: the same keys, each compiled from this config's Upstream object; one taken
      //    over (same IR object) is the previous compiled upstream itself.
      assert.deepEqual([...table.upstreams.keys()].sort(), config.upstreams.map((u) => u.key), `${at}: upstream keys`);
      assert.equal(table.upstreams.size, config.upstreams.length, `${at}: upstream count`);
      for (const upstream of config.upstreams) {
        const compiled: CompiledUpstream = table.upstreams.get(upstream.key)!;
        assert.equal(compiled.source, upstream, `${at}: ${upstream.key} compiled from this config`);
        const before: CompiledUpstream | undefined = previous?.upstreams.get(upstream.key);
        if (before !== undefined && before.source === upstream) assert.equal(compiled, before, `${at}: ${upstream.key} taken over`);
      }

      // 3. Orphan counts as the metrics module counts them from the IR.
      assert.deepEqual(table.orphanRoutes, orphansOf(config), `${at}: orphan routes`);

      // 4. Metric series: the live set equals a fresh build's, each route records into a live
      //    series, and each series' user count is the number of routes bound to it.
      const live = new Map(series.series().map((s) => [s.key, s]));
      assert.deepEqual([...live.keys()].sort(), freshSeries.series().map((s) => s.key).sort(), `${at}: live series`);
      const users = new Map<unknown, number>();
      const routes: CompiledRoute[] = [...table.compiledHosts.flatMap((v) => [...v.routes, ...(v.defaultRoute ? [v.defaultRoute] : [])]), ...(table.defaultRoute ? [table.defaultRoute] : [])];
      for (const route of routes) {
        for (const s of [route.metrics!.main, ...route.metrics!.canaries]) {
          assert.equal(live.get(s.key), s, `${at}: ${route.name} records into a live series`);
          users.set(s, (users.get(s) ?? 0) + 1);
        }
      }
      for (const s of live.values()) if (s !== series.unmatched) assert.equal(s.bindings, users.get(s) ?? 0, `${at}: users of ${s.key}`);

      // 5. Balancers: each upstream has the one its choice asks for; one taken over keeps its
      //    balancer object (state) while its choice is the same; endpoints hold their health entry.
      const choices = upstreamChoices(config);
      for (const compiled of (table as RouteTable).upstreams.values()) {
        assert.equal(balancerKind(compiled.balancer), expectedBalancer(choices.get(compiled.key)?.balance), `${at}: ${compiled.key} balancer`);
        for (const endpoint of compiled.endpoints) assert.equal(endpoint.health?.origin, endpoint.origin, `${at}: ${endpoint.origin} health entry`);
        const before: CompiledUpstream | undefined = previous?.upstreams.get(compiled.key);
        if (before === compiled && JSON.stringify(choices.get(compiled.key) ?? null) === JSON.stringify(previous!.balanceChoices!.get(compiled.key) ?? null)) {
          assert.equal(compiled.balancer, before.balancer, `${at}: ${compiled.key} keeps its balancer`);
        }
      }
      // Passive health: an ejection made through the previous table is seen by every endpoint of
      // this table with that origin.
      if (ejected !== null) {
        for (const compiled of table.upstreams.values()) {
          for (const endpoint of compiled.endpoints) if (endpoint.origin === ejected.origin) assert.equal(endpoint.health, ejected.health, `${at}: ${endpoint.origin} keeps its ejection`);
        }
      }
      if (previous !== null) for (const vhost of table.compiledHosts) if (previous.compiledHosts.includes(vhost)) reusedHosts++;
    }
    assert.ok(incremental > 100, `the incremental path was taken ${incremental} times (the test would prove little)`);
    assert.ok(reusedHosts > 100, `${reusedHosts} compiled virtual hosts reused (the test would prove little)`);
  });
}

test('an upstream taken over unchanged keeps its EWMA balancer (it was rebuilt as round robin)', () => {
  const ewma: RouteBalance = { policy: 'ewma' };
  const upstream: Upstream = { key: 'ns/s0:80', namespace: 'ns', service: 's0', servicePort: 80, endpoints: [{ address: '10.0.0.1', port: 8080, ready: true, serving: true, terminating: false }] };
  const route = (host: string, key: string, balance?: RouteBalance): Route => ({
    name: `ingress/ns/${host}/rule/0/path/0`, source: { kind: 'Ingress', namespace: 'ns', name: host }, host, path: '/', pathType: 'Prefix', match: 'prefix', matchPath: '/',
    backend: backendOf(key), canaries: [], ...(balance ? { balance } : {}),
  });
  const a: VirtualHost = { host: 'a.test', kind: 'exact', routes: [route('a.test', 'ns/s0:80', ewma)], defaultBackend: null };
  const other = { ...upstream, key: 'ns/s1:80', service: 's1' };
  const balancing = new Balancing();
  for (const incremental of [true, false]) {
    const first = compile({ virtualHosts: [a, { host: 'b.test', kind: 'exact', routes: [route('b.test', 'ns/s1:80')], defaultBackend: null }], upstreams: [upstream, other], defaultBackend: null }, { balancing });
    const balancer = first.upstreams.get('ns/s0:80')!.balancer;
    assert.ok(balancer instanceof EwmaBalancer);
    // b.test changes; a.test and its upstream are the same objects. The unsorted list takes the full path.
    const b2: VirtualHost = { host: 'b.test', kind: 'exact', routes: [route('b.test', 'ns/s1:80'), { ...route('b.test', 'ns/s1:80'), path: '/x', matchPath: '/x', name: 'ingress/ns/b.test/rule/0/path/1' }], defaultBackend: null };
    const second = compile({ virtualHosts: incremental ? [a, b2] : [b2, a], upstreams: [upstream, other], defaultBackend: null }, { previous: first, balancing });
    assert.equal(second.upstreams.get('ns/s0:80'), first.upstreams.get('ns/s0:80'));
    assert.equal(second.upstreams.get('ns/s0:80')!.balancer, balancer, `${incremental ? 'incremental' : 'full'} path: the EWMA balancer (and its state) is kept`);
  }
});

test('LayeredMap: set, remove and fold give what a Map gives', () => {
  const random = seededRandom(9);
  let layered = new LayeredMap<number, string>();
  const plain = new Map<number, string>();
  for (let step = 0; step < 400; step++) {
    const set = new Map<number, string>();
    const removed: number[] = [];
    for (let i = 0; i < 1 + Math.floor(random() * 20); i++) {
      const key = Math.floor(random() * 300);
      if (random() < 0.4) removed.push(key);
      else set.set(key, `v${step}.${i}`);
    }
    const before = [...layered];
    const next = layered.with(set, removed);
    assert.deepEqual([...layered], before, 'the previous map is unchanged');
    for (const key of removed) if (!set.has(key)) plain.delete(key);
    for (const [key, value] of set) plain.set(key, value);
    layered = next;
    assert.equal(layered.size, plain.size, `step ${step}: size`);
    assert.deepEqual(new Map(layered), plain, `step ${step}: entries`);
    for (let key = 0; key < 300; key += 7) assert.equal(layered.get(key), plain.get(key), `step ${step}: get ${key}`);
  }
});
