// Incremental rebuilds (translate's per-object memos and interning, the store's patched snapshot
// lists, compile's reuse of unchanged upstreams and virtual hosts with their metric children) must
// give exactly what a from-scratch build of the same snapshot gives. A seeded sequence of random
// changes (upserts, edits, deletes of every kind; conflicts, canaries, missing Services, not-ready
// endpoints) runs through the real Store; after each change the incremental result is compared
// with translate/compile of an unfrozen deep copy of the snapshot (which no memo ever keys on),
// run in a separate instance of the translate module (its own interning state).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import type { RouteTable } from '../../src/compile/route-table.ts';
import type { KubeKind, KubeObject } from '../../src/model/kube.ts';
import type { TranslateResult } from '../../src/model/route-config.ts';
import type { Snapshot, TranslateOptions } from '../../src/model/snapshot.ts';
import { RouteSeriesSet } from '../../src/observability/route-metrics.ts';
import { normalizeObject } from '../../src/sources/normalize.ts';
import { Store } from '../../src/store/store.ts';
import { translate } from '../../src/translate/translate.ts';
import { seededRandom } from '../canary/helpers.ts';
import { DEFAULT_TEST_OPTIONS } from './fixture.ts';

type Translate = (snapshot: Snapshot, options: TranslateOptions) => TranslateResult;
// A second instance of translate.ts (a different module URL): its own interning state, so the
// from-scratch build neither benefits from nor disturbs the incremental one's.
const freshModule = (await import(new URL('../../src/translate/translate.ts?from-scratch', import.meta.url).href)) as { translate: Translate };
const translateFromScratch = freshModule.translate;

const NAMESPACES = ['a', 'b'];
const SERVICES = ['s0', 's1', 's2', 's3', 's4'];
const HOSTS = ['shop.example.com', 'api.example.com', '*.example.com', 'x.example.com', ''];
const PATHS = ['/', '/api', '/api/', '/static', '/a/b', '/api(/|$)(.*)'];
const PATH_TYPES = ['Prefix', 'Exact', 'ImplementationSpecific'];
const TIMES = ['2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z', '2024-01-02T00:00:00Z', '2024-01-03T00:00:00Z'];

function obj(raw: unknown): KubeObject {
  const r = normalizeObject(raw);
  if (!r.ok) throw new Error(r.reason);
  return r.object;
}

class World {
  readonly #random: () => number;
  /** Chance of a canary Ingress (0: translate's Ingress patch path can apply). */
  readonly #canaryChance: number;
  #rv = 1;
  constructor(seed: number, canaryChance = 0.2) {
    this.#random = seededRandom(seed);
    this.#canaryChance = canaryChance;
  }
  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.#random() * list.length)];
  }
  chance(p: number): boolean {
    return this.#random() < p;
  }
  rv(): string {
    return String(this.#rv++);
  }

  service(namespace: string, name: string): KubeObject {
    const ports = [{ name: 'http', port: 80, targetPort: 8080 }];
    if (this.chance(0.5)) ports.push({ name: 'admin', port: 81, targetPort: 9090 });
    const external = this.chance(0.1);
    return obj({
      kind: 'Service',
      metadata: { name, namespace, resourceVersion: this.rv() },
      spec: external ? { type: 'ExternalName', externalName: `${name}.ext.example.org` } : { ports },
    });
  }

  slice(namespace: string, service: string, index: number): KubeObject {
    const endpoints = [];
    const count = Math.floor(this.#random() * 4);
    for (let e = 0; e < count; e++) {
      endpoints.push({ addresses: [`10.0.${index}.${Math.floor(this.#random() * 6)}`], conditions: { ready: this.chance(0.7), terminating: this.chance(0.2) } });
    }
    return obj({
      kind: 'EndpointSlice',
      metadata: { name: `${service}-${index}`, namespace, resourceVersion: this.rv(), labels: { 'kubernetes.io/service-name': service } },
      addressType: 'IPv4',
      ports: [{ name: this.pick(['http', 'admin', 'other']), port: this.pick([8080, 9090]) }],
      endpoints,
    });
  }

  backend(): unknown {
    return { service: { name: this.pick([...SERVICES, 'missing']), port: this.chance(0.8) ? { number: this.pick([80, 81]) } : { name: this.pick(['http', 'admin']) } } };
  }

  ingress(namespace: string, name: string): KubeObject {
    const rules = [];
    const ruleCount = 1 + Math.floor(this.#random() * 2);
    for (let r = 0; r < ruleCount; r++) {
      const paths = [];
      const pathCount = 1 + Math.floor(this.#random() * 3);
      for (let p = 0; p < pathCount; p++) paths.push({ path: this.pick(PATHS), pathType: this.pick(PATH_TYPES), backend: this.backend() });
      const host = this.pick(HOSTS);
      rules.push({ ...(host === '' ? {} : { host }), http: { paths } });
    }
    const annotations: Record<string, string> = {};
    if (this.chance(this.#canaryChance)) {
      annotations['nginx.ingress.kubernetes.io/canary'] = 'true';
      if (this.chance(0.5)) annotations['nginx.ingress.kubernetes.io/canary-weight'] = String(this.pick([10, 50, 100]));
      if (this.chance(0.5)) annotations['nginx.ingress.kubernetes.io/canary-by-header'] = 'x-canary';
    }
    if (this.chance(0.1)) annotations['nginx.ingress.kubernetes.io/ssl-redirect'] = 'false';
    // Regex hosts: one such Ingress changes how every path of its hosts matches.
    if (this.chance(0.1)) annotations['nginx.ingress.kubernetes.io/use-regex'] = 'true';
    if (this.chance(0.1)) annotations['nginx.ingress.kubernetes.io/rewrite-target'] = this.pick(['/', '/$2']);
    return obj({
      kind: 'Ingress',
      metadata: { name, namespace, resourceVersion: this.rv(), creationTimestamp: this.pick(TIMES), annotations },
      spec: {
        ingressClassName: this.chance(0.9) ? 'switchyard' : 'other',
        ...(this.chance(0.15) ? { defaultBackend: this.backend() } : {}),
        ...(this.chance(0.2) ? { tls: [{ hosts: [this.pick(HOSTS.filter((h) => h !== ''))], secretName: 'tls' }] } : {}),
        rules,
      },
    });
  }

  /** One random change: an upsert (new or edited object) or a delete. */
  change(store: Store, kinds: readonly KubeKind[] = ['Ingress', 'Ingress', 'Service', 'EndpointSlice', 'EndpointSlice']): void {
    const namespace = this.pick(NAMESPACES);
    const kind = this.pick<KubeKind>(kinds);
    const name =
      kind === 'Ingress' ? `i${Math.floor(this.#random() * 8)}` : kind === 'Service' ? this.pick(SERVICES) : `${this.pick(SERVICES)}-${Math.floor(this.#random() * 2)}`;
    if (this.chance(0.15)) {
      store.apply({ type: 'delete', kind, namespace, name });
      return;
    }
    if (kind === 'Ingress') store.apply({ type: 'upsert', object: this.ingress(namespace, name) });
    else if (kind === 'Service') store.apply({ type: 'upsert', object: this.service(namespace, name) });
    else {
      const dash = name.lastIndexOf('-');
      store.apply({ type: 'upsert', object: this.slice(namespace, name.slice(0, dash), Number(name.slice(dash + 1))) });
    }
  }
}

/** What a request gets from a table: route, upstream and its endpoints, canary targets. */
function decisions(table: RouteTable): unknown[] {
  const out: unknown[] = [];
  for (const host of [...HOSTS, 'other.example.com', 'deep.x.example.com']) {
    for (const path of ['/', '/api', '/api/', '/api/v1', '/static/x', '/a/b', '/a/b/c', '/nope']) {
      const route = table.find(host, path);
      out.push([
        host,
        path,
        route?.name ?? null,
        route?.upstream?.key ?? null,
        route?.upstream?.candidates.map((e) => e.origin) ?? null,
        route?.canaryRule?.targets.map((t) => `${t.name} ${(t.upstream as { key: string } | null)?.key}`) ?? null,
      ]);
    }
  }
  return out;
}

function deepCopy(snapshot: Snapshot): Snapshot {
  return JSON.parse(JSON.stringify(snapshot)) as Snapshot;
}

/**
 * Each step's changes: `mixed` = 1-3 random changes of any kind; `by-kind` = runs of one kind;
 * `ingresses` = 1-3 Ingress changes (edits, additions, deletions) in a world without canaries.
 */
type Mix = 'mixed' | 'by-kind' | 'ingresses';

function changeStep(world: World, store: Store, step: number, mix: Mix): void {
  if (mix === 'mixed') {
    const changes = 1 + Math.floor(step % 3);
    for (let c = 0; c < changes; c++) world.change(store);
    return;
  }
  if (mix === 'ingresses') {
    const changes = 1 + Math.floor(step % 3);
    for (let c = 0; c < changes; c++) world.change(store, ['Ingress']);
    return;
  }
  // The common change kinds alone: EndpointSlices (1-3 at once), one Ingress, one Service.
  const kinds: readonly KubeKind[] = [['EndpointSlice'], ['EndpointSlice'], ['Ingress'], ['Service']][step % 4] as KubeKind[];
  const changes = kinds[0] === 'EndpointSlice' ? 1 + Math.floor((step / 4) % 3) : 1;
  for (let c = 0; c < changes; c++) world.change(store, kinds);
}

for (const mix of ['mixed', 'by-kind', 'ingresses'] as const) test(`incremental rebuilds after random changes (${mix}) equal a from-scratch translate + compile`, () => {
  const options: TranslateOptions = DEFAULT_TEST_OPTIONS;
  let routingReused = 0;
  for (const seed of [1, 2, 3]) {
    const world = new World(seed, mix === 'ingresses' ? 0 : 0.2);
    const store = new Store();
    store.apply({ type: 'upsert', object: obj({ kind: 'IngressClass', metadata: { name: 'switchyard' }, spec: { controller: options.controllerName } }) });
    for (const ns of NAMESPACES) {
      for (const s of SERVICES) {
        store.apply({ type: 'upsert', object: world.service(ns, s) });
        store.apply({ type: 'upsert', object: world.slice(ns, s, 0) });
      }
      for (let i = 0; i < 6; i++) store.apply({ type: 'upsert', object: world.ingress(ns, `i${i}`) });
    }
    const series = new RouteSeriesSet({ enabled: true, statusClass: false });
    let table: RouteTable | null = null;
    let reusedHosts = 0;
    for (let step = 0; step < 120; step++) {
      changeStep(world, store, step, mix);
      const snapshot = store.snapshot();

      // The store's patched lists equal sorting everything again.
      for (const [field, kind] of [['ingresses', 'Ingress'], ['services', 'Service'], ['endpointSlices', 'EndpointSlice']] as const) {
        const list = snapshot[field] as readonly KubeObject[];
        const keys = list.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
        assert.deepEqual(keys, [...keys].sort(), `seed ${seed} step ${step}: ${kind} list not sorted`);
        for (const o of list) assert.equal(store.get(kind, o.metadata.namespace ?? '', o.metadata.name), o);
        assert.equal(list.length, store.counts()[kind], `seed ${seed} step ${step}: ${kind} count`);
      }

      const result = translate(snapshot, options);
      // The EndpointSlice-only path keeps the very routing part (same virtual host list).
      if (table !== null && result.config.virtualHosts === table.config.virtualHosts) routingReused++;
      const expected = translateFromScratch(deepCopy(snapshot), options);
      assert.deepEqual(result, expected, `seed ${seed} step ${step}: translate`);

      const binder = series.binder();
      const previous: RouteTable | null = table;
      table = compile(result.config, { previous, metrics: binder, random: () => 0, canaryRandom: () => 0.5 });
      series.commit(binder);
      if (previous !== null) for (const vhost of table.compiledHosts) if (previous.compiledHosts.includes(vhost)) reusedHosts++;

      const freshBinder = new RouteSeriesSet({ enabled: true, statusClass: false }).binder();
      const fresh = compile(expected.config, { metrics: freshBinder, random: () => 0, canaryRandom: () => 0.5 });
      assert.deepEqual(decisions(table), decisions(fresh), `seed ${seed} step ${step}: compiled decisions`);
      // Metric children: the same series keys are live, and every compiled route records into a live one.
      assert.deepEqual([...binder.bound.keys()].sort(), [...freshBinder.bound.keys()].sort(), `seed ${seed} step ${step}: metric series`);
      for (const vhost of table.compiledHosts) {
        for (const route of [...vhost.routes, ...(vhost.defaultRoute ? [vhost.defaultRoute] : [])]) {
          assert.equal(binder.bound.get(route.metrics!.main.key), route.metrics!.main, `seed ${seed} step ${step}: ${route.name} series not live`);
        }
      }
    }
    assert.ok(reusedHosts > 0, `seed ${seed}: no compiled virtual host was ever reused (the test would prove nothing)`);
  }
  if (mix === 'by-kind') assert.ok(routingReused > 50, `the EndpointSlice-only path was taken ${routingReused} times (the test would prove little)`);
});

test('an unchanged Ingress keeps its Route objects; an unchanged Service its Upstream', () => {
  const world = new World(7);
  const store = new Store();
  store.apply({ type: 'upsert', object: obj({ kind: 'IngressClass', metadata: { name: 'switchyard' }, spec: { controller: DEFAULT_TEST_OPTIONS.controllerName } }) });
  for (const s of SERVICES) {
    store.apply({ type: 'upsert', object: obj({ kind: 'Service', metadata: { name: s, namespace: 'a' }, spec: { ports: [{ name: 'http', port: 80 }] } }) });
    store.apply({ type: 'upsert', object: world.slice('a', s, 0) });
    store.apply({
      type: 'upsert',
      object: obj({
        kind: 'Ingress',
        metadata: { name: s, namespace: 'a', creationTimestamp: TIMES[0] },
        spec: { ingressClassName: 'switchyard', rules: [{ host: `${s}.example.com`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: s, port: { number: 80 } } } }] } }] },
      }),
    });
  }
  const before = translate(store.snapshot(), DEFAULT_TEST_OPTIONS).config;
  // One Ingress changes (s0 -> s1) and one EndpointSlice (of s2).
  store.apply({
    type: 'upsert',
    object: obj({
      kind: 'Ingress',
      metadata: { name: 's0', namespace: 'a', creationTimestamp: TIMES[0] },
      spec: { ingressClassName: 'switchyard', rules: [{ host: 's0.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 's1', port: { number: 80 } } } }] } }] },
    }),
  });
  store.apply({ type: 'upsert', object: world.slice('a', 's2', 0) });
  const after = translate(store.snapshot(), DEFAULT_TEST_OPTIONS).config;
  const host = (config: typeof before, name: string) => config.virtualHosts.find((v) => v.host === name)!;
  assert.notEqual(host(after, 's0.example.com'), host(before, 's0.example.com'));
  for (const s of ['s1', 's2', 's3', 's4']) assert.equal(host(after, `${s}.example.com`), host(before, `${s}.example.com`), `${s}: virtual host shared`);
  const upstream = (config: typeof before, key: string) => config.upstreams.find((u) => u.key === key);
  assert.equal(upstream(after, 'a/s0:80'), undefined);
  assert.equal(upstream(after, 'a/s1:80'), upstream(before, 'a/s1:80'));
  assert.equal(upstream(after, 'a/s3:80'), upstream(before, 'a/s3:80'));
  assert.notEqual(upstream(after, 'a/s2:80'), upstream(before, 'a/s2:80'));
});

