// Controller metrics from the real pipeline: Store -> Controller (real timers) -> translate ->
// compile (binding route series) -> swap, observed by Metrics.observeController/observeStore.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Controller } from '../../src/runtime/controller.ts';
import { RouteRef } from '../../src/runtime/route-ref.ts';
import { Store } from '../../src/store/store.ts';
import { translate } from '../../src/translate/translate.ts';
import { compile } from '../../src/compile/compile.ts';
import type { RouteTable } from '../../src/compile/route-table.ts';
import type { RouteSeriesBinder } from '../../src/observability/route-metrics.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import type { EndpointSlice, Ingress, IngressClass, Service } from '../../src/model/kube.ts';
import { CONTROLLER_NAME } from '../../src/model/snapshot.ts';
import { captureLogs } from '../support/log-capture.ts';
import { EventEmitter } from 'node:events';
import { find, one, parseExposition } from './exposition-parser.ts';

const CLASS: IngressClass = { kind: 'IngressClass', metadata: { name: 'switchyard' }, spec: { controller: CONTROLLER_NAME } };

function ingress(name: string, service: string, path = '/'): Ingress {
  return {
    kind: 'Ingress',
    metadata: { name, namespace: 'shop', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { ingressClassName: 'switchyard', rules: [{ host: `${name}.example.com`, http: { paths: [{ path, pathType: 'Prefix', backend: { service: { name: service, port: { number: 80 } } } }] } }] },
  };
}

function service(name: string): Service {
  return { kind: 'Service', metadata: { name, namespace: 'shop' }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] } };
}

function slice(serviceName: string, ready: boolean): EndpointSlice {
  return {
    kind: 'EndpointSlice',
    metadata: { name: `${serviceName}-abc`, namespace: 'shop', labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready } }],
    ports: [{ name: 'http', port: 8080 }],
  };
}

test('controller metrics follow the real pipeline: generation, swaps, change-to-swap, invalid objects, orphans, objects watched', async () => {
  const metrics = new Metrics({
    enabled: true, statusClass: false, compat: 'ingress-nginx', controllerNamespace: 'ingress', controllerClass: CONTROLLER_NAME, controllerPod: 'p', processMetrics: false,
  });
  const store = new Store();
  const routeRef = new RouteRef<RouteTable>(compile({ virtualHosts: [], defaultBackend: null, upstreams: [] }, { generation: 0 }));
  const { logger, lines } = captureLogs();
  // The binder of the table being built is committed once that table is published.
  const binders = new WeakMap<RouteTable, RouteSeriesBinder>();
  const controller = new Controller<RouteTable>({
    store, routeRef, logger, holdoffMs: 5, maxHoldoffMs: 20,
    translateOptions: { ingressClass: 'switchyard', controllerName: CONTROLLER_NAME, watchIngressWithoutClass: false, defaultBackendService: null },
    translate,
    compile: (config, previous) => {
      const binder = metrics.routes.binder();
      const table = compile(config, { previous, metrics: binder });
      binders.set(table, binder);
      return table;
    },
  });
  const published = new EventEmitter();
  controller.onPublish((p) => {
    metrics.routes.commit(binders.get(p.table)!);
    published.emit('table', p);
  });
  metrics.observeController(controller);
  metrics.observeStore(store);

  store.replace('IngressClass', [CLASS]);
  store.replace('Service', [service('web'), service('api')]);
  store.replace('EndpointSlice', [slice('web', true), slice('api', false)]);
  store.replace('Ingress', [ingress('web', 'web'), ingress('api', 'api'), ingress('orphan', 'missing'), ingress('bad', 'web', 'no-slash')]);
  store.replace('Secret', []);
  const first = once(published, 'table');
  await controller.start([Promise.resolve()]);
  await first;

  let e = parseExposition(await metrics.renderAs('prometheus'));
  assert.equal(one(e, 'switchyard_route_table_swaps_total').value, 1);
  assert.equal(one(e, 'switchyard_route_table_generation').value, routeRef.current.generation);
  assert.equal(one(e, 'switchyard_route_table_build_duration_seconds_count').value, 1);
  assert.equal(one(e, 'switchyard_change_to_swap_duration_seconds_count').value, 0, 'the first table is startup, not a change');
  assert.equal(one(e, 'switchyard_objects_watched', { kind: 'Ingress' }).value, 4);
  assert.equal(one(e, 'switchyard_objects_watched', { kind: 'Service' }).value, 2);
  assert.equal(one(e, 'switchyard_orphan_routes', { reason: 'no_service' }).value, 1);
  assert.equal(one(e, 'switchyard_orphan_routes', { reason: 'no_ready_endpoint' }).value, 1);
  const invalid = find(e, 'switchyard_invalid_objects');
  assert.ok(invalid.length >= 1, 'the invalid path is counted');
  assert.ok(invalid.every((s) => s.labels.kind === 'Ingress' && s.labels.reason !== ''));
  // The controller logs each skipped object with kind, namespace, name and reason.
  const skipped = lines.filter((l) => l.level === 'error' || l.level === 'warn').filter((l) => l.name === 'bad' || l.name === 'orphan');
  assert.ok(skipped.length >= 2, JSON.stringify(lines.filter((l) => l.reason)));
  for (const l of skipped) {
    assert.equal(l.kind, 'Ingress');
    assert.equal(l.namespace, 'shop');
    assert.equal(typeof l.reason, 'string');
  }
  // Route series bound for the served routes (web, api, orphan); nothing counted yet.
  assert.ok(metrics.routes.size >= 4);

  // A change: the endpoint of api becomes ready -> one swap, change-to-swap observed.
  const second = once(published, 'table');
  store.apply({ type: 'upsert', object: slice('api', true) });
  await second;
  e = parseExposition(await metrics.renderAs('prometheus'));
  assert.equal(one(e, 'switchyard_route_table_swaps_total').value, 2);
  assert.equal(one(e, 'switchyard_change_to_swap_duration_seconds_count').value, 1);
  const latency = one(e, 'switchyard_change_to_swap_duration_seconds_sum').value;
  // A change after a quiet spell is built at once (scheduler leading edge), so no holdoff floor.
  assert.ok(latency > 0 && latency < 2, `change-to-swap ${latency}s is observed`);
  assert.equal(one(e, 'switchyard_orphan_routes', { reason: 'no_ready_endpoint' }).value, 0);
  assert.equal(one(e, 'nginx_ingress_controller_success').value, 2);
  assert.equal(one(e, 'nginx_ingress_controller_config_last_reload_successful').value, 1);
  controller.stop();
});
