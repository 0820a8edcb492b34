// Snapshot + merge of per-route accumulators (the basis of --workers aggregation): merging two
// processes' snapshots renders exactly what one process serving all the requests renders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../../src/observability/metrics.ts';

const OPTIONS = { enabled: true, statusClass: false, compat: 'ingress-nginx', controllerNamespace: 'ns', controllerClass: 'c', controllerPod: 'p', processMetrics: false } as const;
const ROUTE = { source: { namespace: 'shop', name: 'web' }, host: 'shop.test', path: '/', backend: { service: { namespace: 'shop', name: 'web', port: 80 }, upstream: 'shop/web:80' } } as never;

function traffic(metrics: Metrics, from: number, to: number): void {
  const binder = metrics.routes.binder();
  const series = binder.bindRoute(ROUTE);
  metrics.routes.commit(binder);
  for (let i = from; i < to; i++) series.record(i % 3 === 0 ? 'POST' : 'GET', i % 5 === 0 ? 502 : 200, i * 7, i * 11, i / 1000, 0, i / 2000);
}

test('merged snapshots of two processes render exactly like one process with all the traffic (both formats)', async () => {
  const one = new Metrics(OPTIONS);
  traffic(one, 0, 100);
  const a = new Metrics(OPTIONS);
  traffic(a, 0, 40);
  const b = new Metrics(OPTIONS);
  traffic(b, 40, 100);
  const primary = new Metrics(OPTIONS);
  traffic(primary, 0, 0); // the primary binds the same routes, serves nothing
  // Snapshots travel as JSON over the cluster IPC channel.
  const snapshots = [a.snapshot(), b.snapshot()].map((s) => JSON.parse(JSON.stringify(s)));
  primary.aggregateWorkers(async () => snapshots);
  for (const format of ['prometheus', 'openmetrics'] as const) {
    const route = (text: string) => text.split('\n').filter((l) => /^(switchyard_http|switchyard_upstream_(response|connect)|nginx_ingress_controller_(requests|request_|response_|connect_))/.test(l)).join('\n');
    const merged = route(await primary.renderAs(format)).split('\n');
    const single = route(await one.renderAs(format)).split('\n');
    assert.ok(merged.some((l) => l.startsWith('switchyard_http_requests_total{')));
    assert.equal(merged.length, single.length);
    // Counters, buckets and counts are integers: equal. Sums of floats added in another order may
    // differ in the last bits only.
    for (let i = 0; i < merged.length; i++) {
      const [name, value] = merged[i].split(/ (?=[^ ]+$)/);
      const [singleName, singleValue] = single[i].split(/ (?=[^ ]+$)/);
      assert.equal(name, singleName);
      if (name.includes('_sum')) assert.ok(Math.abs(Number(value) - Number(singleValue)) <= 1e-9 * Math.abs(Number(singleValue)), merged[i]);
      else assert.equal(value, singleValue, merged[i]);
    }
  }
});
