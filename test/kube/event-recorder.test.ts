// Events for diagnostics: new ones created once by the leader, a reappearing one patched (count+1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { KubeApiServer, kubeconfigFor } from '../support/kube-api-server.ts';
import { loadKubeConfig } from '../../src/sources/kube/kube-config.ts';
import { EventRecorder } from '../../src/status/event-recorder.ts';
import type { Diagnostic } from '../../src/model/diagnostic.ts';
import { captureLogs } from '../support/log-capture.ts';

const silent = pino({ level: 'silent' });

test('diagnostics become Warning Events on the Ingress: new ones created, repeats patched, follower silent', async () => {
  const server = new KubeApiServer();
  await server.start();
  const dir = mkdtempSync(join(tmpdir(), 'swy-events-'));
  writeFileSync(join(dir, 'kubeconfig'), kubeconfigFor(server));
  const kubeConfig = loadKubeConfig({ kubeconfig: join(dir, 'kubeconfig') }).kubeConfig;
  let leader = false;
  const recorder = new EventRecorder({
    kubeConfig, logger: silent, isLeader: () => leader, instance: 'switchyard-0', maxPerBuild: 2,
    findObject: (kind, namespace, name) => ({ kind: 'Ingress', apiVersion: 'networking.k8s.io/v1', metadata: { namespace, name, uid: 'uid-1', resourceVersion: '7' } }) as any,
  });
  const missing: Diagnostic = { severity: 'error', object: { kind: 'Ingress', namespace: 'shop', name: 'web' }, reason: 'ServiceNotFound', message: 'service "shop/api" not found' };
  const badPath: Diagnostic = { severity: 'warning', object: { kind: 'Ingress', namespace: 'shop', name: 'web' }, reason: 'InvalidPath', message: 'path "x" must start with "/"' };
  try {
    recorder.record([missing]);
    await recorder.flush();
    assert.equal(server.list('Event').length, 0, 'a follower records nothing');

    leader = true;
    recorder.record([missing]);
    recorder.record([missing, badPath]); // only badPath is new
    recorder.record([missing, badPath]); // nothing new
    await recorder.flush();
    let events = server.list('Event');
    assert.equal(events.length, 2);
    const ev = events.find((e) => e.reason === 'ServiceNotFound')!;
    assert.equal(ev.type, 'Warning');
    assert.equal(ev.message, 'service "shop/api" not found');
    assert.equal(ev.metadata.namespace, 'shop');
    assert.deepEqual(ev.involvedObject, { kind: 'Ingress', name: 'web', namespace: 'shop', apiVersion: 'networking.k8s.io/v1', uid: 'uid-1', resourceVersion: '7' });
    assert.equal(ev.count, 1);
    assert.equal(ev.reportingComponent, 'switchyard.dev/ingress-controller');

    recorder.record([badPath]); // missing resolved
    recorder.record([missing, badPath]); // and back: the same Event, count 2
    await recorder.flush();
    events = server.list('Event');
    assert.equal(events.length, 2);
    assert.equal(events.find((e) => e.reason === 'ServiceNotFound')!.count, 2);
    assert.deepEqual(recorder.stats, { created: 2, patched: 1, failures: 0, skipped: 0 });

    // A flood is capped per build.
    const many = Array.from({ length: 5 }, (_, i): Diagnostic => ({ ...missing, object: { kind: 'Ingress', namespace: 'shop', name: `n${i}` } }));
    recorder.record(many);
    await recorder.flush();
    assert.equal(recorder.stats.created, 4);
    assert.equal(recorder.stats.skipped, 3);
    const verbs = new Set(server.requestLog.map((e) => `${e.verb} ${e.resource}`));
    assert.deepEqual([...verbs].sort(), ['create events', 'patch events']);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('diagnostics about other kinds (a Service without ready endpoints) make no Event', async () => {
  const server = new KubeApiServer();
  await server.start();
  const dir = mkdtempSync(join(tmpdir(), 'swy-events-'));
  writeFileSync(join(dir, 'kubeconfig'), kubeconfigFor(server));
  const kubeConfig = loadKubeConfig({ kubeconfig: join(dir, 'kubeconfig') }).kubeConfig;
  const recorder = new EventRecorder({ kubeConfig, logger: silent, isLeader: () => true, instance: 'x', findObject: () => undefined });
  try {
    recorder.record([{ severity: 'warning', object: { kind: 'Service', namespace: 'shop', name: 'web' }, reason: 'NoReadyEndpoints', message: 'no ready endpoints' }]);
    await recorder.flush();
    assert.equal(server.list('Event').length, 0);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an Event write to an API server that stops answering times out and is logged; later ones go through', async () => {
  const server = new KubeApiServer();
  await server.start();
  const dir = mkdtempSync(join(tmpdir(), 'swy-events-'));
  writeFileSync(join(dir, 'kubeconfig'), kubeconfigFor(server));
  const kubeConfig = loadKubeConfig({ kubeconfig: join(dir, 'kubeconfig') }).kubeConfig;
  const { logger, lines } = captureLogs('info');
  const recorder = new EventRecorder({
    kubeConfig, logger, isLeader: () => true, instance: 'switchyard-0', requestTimeoutMs: 150, findObject: () => undefined,
  });
  const diagnostic = (name: string): Diagnostic => ({
    severity: 'error', object: { kind: 'Ingress', namespace: 'shop', name }, reason: 'ServiceNotFound', message: 'service "shop/api" not found',
  });
  try {
    server.stall((e) => e.resource === 'events');
    const t0 = Date.now();
    recorder.record([diagnostic('a')]);
    await recorder.flush();
    assert.ok(Date.now() - t0 < 2000, `the write ended at its deadline (${Date.now() - t0}ms)`);
    assert.equal(recorder.stats.failures, 1);
    const failed = lines.find((l) => l.msg === 'writing an Event failed');
    assert.equal((failed?.err as { code?: string } | undefined)?.code, 'SWY_ERR_KUBE_API_TIMEOUT');
    server.unstall();
    recorder.record([diagnostic('a'), diagnostic('b')]);
    await recorder.flush();
    assert.equal(recorder.stats.created, 1);
    assert.deepEqual(server.list('Event').map((e) => e.involvedObject.name), ['b']);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
