import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdminServer } from '../../src/observability/admin-server.ts';
import { Controller } from '../../src/runtime/controller.ts';
import { RouteRef } from '../../src/runtime/route-ref.ts';
import { Store } from '../../src/store/store.ts';
import type { RouteConfig } from '../../src/model/route-config.ts';
import { captureLogs } from '../support/log-capture.ts';
import { get } from '../e2e/helpers.ts';

const EMPTY: RouteConfig = { virtualHosts: [], defaultBackend: null, upstreams: [] };

test('/healthz always 200; /readyz 503 until the first table (after sync), then 200; 404/405 otherwise', async (t) => {
  const { logger } = captureLogs();
  const store = new Store();
  const routeRef = new RouteRef({ generation: 0, config: EMPTY });
  const controller = new Controller({
    store, routeRef, logger, holdoffMs: 20, maxHoldoffMs: 200,
    translateOptions: { ingressClass: 'switchyard', controllerName: 'x/y', watchIngressWithoutClass: false, defaultBackendService: null },
    translate: () => ({ config: EMPTY, diagnostics: [] }),
    compile: (config, previous) => ({ generation: previous.generation + 1, config }),
  });
  const admin = new AdminServer({ logger }).addReadinessCheck('routes', () => controller.ready);
  let draining = false;
  admin.addReadinessCheck('draining', () => !draining);
  admin.route('/debug/thing', (_req, res) => void res.end('thing'));
  admin.route('/debug/bug', () => {
    throw new Error('bug');
  });
  const { port } = await admin.listen(0, '127.0.0.1');
  t.after(() => {
    controller.stop();
    return admin.close();
  });

  assert.deepEqual([(await get(port, 'a', '/healthz')).status, (await get(port, 'a', '/healthz')).body], [200, 'ok\n']);
  let r = await get(port, 'a', '/readyz');
  assert.equal(r.status, 503);
  assert.equal(r.body, 'not ready: routes\n');

  let sync!: () => void;
  const started = controller.start([new Promise<void>((resolve) => (sync = resolve))]);
  assert.equal((await get(port, 'a', '/readyz')).status, 503, 'sources not synced yet');
  sync();
  await started;
  await controller.whenReady();
  assert.equal((await get(port, 'a', '/readyz')).status, 200);
  assert.equal((await get(port, 'a', '/readyz?verbose')).status, 200, 'query ignored');
  draining = true;
  r = await get(port, 'a', '/readyz');
  assert.deepEqual([r.status, r.body], [503, 'not ready: draining\n']);

  assert.equal((await get(port, 'a', '/debug/thing')).body, 'thing');
  assert.equal((await get(port, 'a', '/debug/bug')).status, 500);
  assert.equal((await get(port, 'a', '/nope')).status, 404);
  assert.deepEqual(admin.paths, ['/debug/bug', '/debug/thing', '/healthz', '/readyz']);
});
