// Kubernetes mode through the real main wiring against the in-repo API server: objects watched,
// relists after a compaction (410 Gone), restarts after failed watches, and the leader gauge, as
// /metrics on the admin port shows them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeApiServer, kubeconfigFor } from '../support/kube-api-server.ts';
import { startSwitchyard } from '../../src/main.ts';
import { parseConfig, type Config } from '../../src/config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { endpointSlice, ingress, ingressClass, service } from '../kube/fixtures.ts';
import { get } from '../e2e/helpers.ts';
import { find, one, parseExposition, type Exposition } from './exposition-parser.ts';

test('kubernetes mode: objects watched, relists, watch restarts and leader status on /metrics', async (t) => {
  const api = new KubeApiServer();
  await api.start();
  api.put(ingressClass());
  api.put(service('shop', 'web', 80, 8080));
  api.put(endpointSlice('shop', 'web', 8080, [{ address: '127.0.0.1' }]));
  api.put(ingress('shop', 'web', { host: 'shop.example.com', service: 'web', port: 80 }));
  const dir = mkdtempSync(join(tmpdir(), 'swy-obs-kube-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigFor(api));
  const outcome = parseConfig([
    '--source', 'kubernetes', '--kubeconfig', kubeconfig, '--http-port', '0', '--https-port', '0', '--admin-port', '0',
    '--bind-address', '127.0.0.1', '--admin-bind-address', '127.0.0.1', '--pod-namespace', 'ingress', '--pod-name', 'sw-0',
    '--access-log=false', '--metrics-compat', 'ingress-nginx',
  ], {});
  assert.equal(outcome.kind, 'run');
  const app = await startSwitchyard((outcome as { config: Config }).config, createLogger({ level: 'silent' }));
  t.after(async () => {
    await app.close(0);
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await app.controller.whenReady();
  const scrape = async (): Promise<Exposition> => parseExposition((await get(app.adminAddress.port, 'admin', '/metrics')).body);
  const until = async (what: string, check: (e: Exposition) => boolean): Promise<Exposition> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const e = await scrape();
      if (check(e)) return e;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  let e = await scrape();
  assert.equal(one(e, 'switchyard_objects_watched', { kind: 'Ingress' }).value, 1);
  assert.equal(one(e, 'switchyard_objects_watched', { kind: 'EndpointSlice' }).value, 1);
  for (const kind of ['Ingress', 'Service', 'EndpointSlice', 'IngressClass', 'Secret']) {
    assert.equal(one(e, 'switchyard_watch_relists_total', { kind }).value, 0, kind);
    assert.equal(one(e, 'switchyard_watch_restarts_total', { kind }).value, 0, kind);
  }

  // The only replica takes the Lease.
  e = await until('leadership', (x) => one(x, 'switchyard_leader_election_status').value === 1);
  assert.equal(one(e, 'nginx_ingress_controller_leader_election_status', { name: 'switchyard-leader' }).value, 1);

  // Compaction: every watch gets 410 Gone and each kind relists.
  api.compact();
  e = await until('relists', (x) => find(x, 'switchyard_watch_relists_total').every((s) => s.value >= 1));

  // Failed watches: the informers restart (with backoff) and count it.
  api.failNextWatches(5);
  api.dropWatches(true);
  e = await until('restarts', (x) => find(x, 'switchyard_watch_restarts_total').some((s) => s.value >= 1));
  assert.ok(find(e, 'switchyard_watch_restarts_total').every((s) => s.labels.kind !== ''));
});
