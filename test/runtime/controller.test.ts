import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Controller } from '../../src/runtime/controller.ts';
import { RouteRef } from '../../src/runtime/route-ref.ts';
import { Store } from '../../src/store/store.ts';
import type { RouteConfig, TranslateResult } from '../../src/model/route-config.ts';
import type { Snapshot, TranslateOptions } from '../../src/model/snapshot.ts';
import type { Diagnostic } from '../../src/model/diagnostic.ts';
import type { Ingress } from '../../src/model/kube.ts';
import { FakeTimers } from './fake-timers.ts';
import { captureLogs } from '../support/log-capture.ts';

interface Table {
  readonly generation: number;
  readonly config: RouteConfig;
}

const EMPTY: RouteConfig = { virtualHosts: [], defaultBackend: null, upstreams: [] };
const OPTIONS: TranslateOptions = { ingressClass: 'switchyard', controllerName: 'switchyard.dev/ingress-controller', watchIngressWithoutClass: false, defaultBackendService: null };

function ingress(name: string, host = `${name}.test`): Ingress {
  return { kind: 'Ingress', metadata: { name, namespace: 'default' }, spec: { rules: [{ host }] } };
}

/** A stand-in translate: one virtual host per Ingress host; behaviour switchable per test. */
function fakeTranslate(state: { throwNext: boolean; diagnostics: Diagnostic[]; calls: number }) {
  return (snapshot: Snapshot, _options: TranslateOptions): TranslateResult => {
    state.calls++;
    if (state.throwNext) throw new TypeError('bug in translate');
    const hosts = snapshot.ingresses.map((i) => i.spec?.rules?.[0]?.host ?? '*').sort();
    return {
      config: { ...EMPTY, virtualHosts: hosts.map((host) => ({ host, kind: 'exact', routes: [], defaultBackend: null })) },
      diagnostics: state.diagnostics,
    };
  };
}

function setup(beforeReady?: () => void) {
  const timers = new FakeTimers();
  const store = new Store();
  const routeRef = new RouteRef<Table>({ generation: 0, config: EMPTY });
  const state = { throwNext: false, diagnostics: [] as Diagnostic[], calls: 0 };
  const { logger, lines } = captureLogs();
  const controller = new Controller<Table>({
    store, routeRef, logger, timers, translateOptions: OPTIONS, holdoffMs: 20, maxHoldoffMs: 200,
    translate: fakeTranslate(state),
    compile: (config, previous) => ({ generation: previous.generation + 1, config }),
    beforeReady,
  });
  return { timers, store, routeRef, state, lines, controller };
}

function hostsOf(t: Table): string[] {
  return t.config.virtualHosts.map((v) => v.host);
}

test('publishes only after every source has synced, then coalesces', async () => {
  const { timers, store, routeRef, controller, state } = setup();
  let syncA!: () => void;
  let syncB!: () => void;
  const started = controller.start([new Promise<void>((r) => (syncA = r)), new Promise<void>((r) => (syncB = r))]);
  store.apply({ type: 'upsert', object: ingress('a') });
  timers.advance(1000);
  syncA();
  await Promise.resolve();
  store.apply({ type: 'upsert', object: ingress('b') });
  timers.advance(1000);
  assert.equal(routeRef.version, 0, 'nothing before the sync gate');
  assert.equal(controller.ready, false);
  assert.equal(state.calls, 0);
  syncB();
  await started;
  timers.advance(0);
  assert.equal(routeRef.version, 1);
  assert.equal(controller.ready, true);
  await controller.whenReady();
  assert.deepEqual(hostsOf(routeRef.current), ['a.test', 'b.test']);

  // A burst of 50 changes -> one rebuild.
  for (let i = 0; i < 50; i++) store.apply({ type: 'upsert', object: ingress(`n${i}`) });
  timers.advance(20);
  assert.equal(routeRef.version, 2);
  assert.equal(state.calls, 2);
  assert.equal(routeRef.current.generation, 2);
  controller.stop();
});

test('the first table is published even when the sources are empty', async () => {
  const { timers, routeRef, controller } = setup();
  await controller.start([Promise.resolve()]);
  timers.advance(0);
  assert.equal(routeRef.version, 1);
  assert.equal(controller.ready, true);
});

test('a throwing translate keeps the last good table; the next good build publishes', async () => {
  const { timers, store, routeRef, controller, state, lines } = setup();
  store.apply({ type: 'upsert', object: ingress('a') });
  await controller.start([]);
  timers.advance(0);
  const good = routeRef.current;
  state.throwNext = true;
  store.apply({ type: 'upsert', object: ingress('b') });
  timers.advance(20);
  assert.equal(routeRef.current, good, 'last good table kept');
  assert.equal(routeRef.version, 1);
  assert.equal(controller.stats.failures, 1);
  assert.ok(controller.lastError instanceof TypeError);
  const err = lines.find((l) => l.reason === 'RebuildFailed');
  assert.ok(err, 'logged');
  assert.equal(err.level, 'error');
  assert.match(String((err.err as { message: string }).message), /bug in translate/);

  state.throwNext = false;
  store.apply({ type: 'upsert', object: ingress('c') });
  timers.advance(20);
  assert.deepEqual(hostsOf(routeRef.current), ['a.test', 'b.test', 'c.test']);
  assert.equal(controller.lastError, null);
});

test('a throwing compile also keeps the last good table', async () => {
  const timers = new FakeTimers();
  const store = new Store();
  const routeRef = new RouteRef<Table>({ generation: 0, config: EMPTY });
  let fail = false;
  const controller = new Controller<Table>({
    store, routeRef, logger: captureLogs().logger, timers, translateOptions: OPTIONS, holdoffMs: 20, maxHoldoffMs: 200,
    translate: fakeTranslate({ throwNext: false, diagnostics: [], calls: 0 }),
    compile: (config, previous) => {
      if (fail) throw new RangeError('bug in compile');
      return { generation: previous.generation + 1, config };
    },
  });
  await controller.start([]);
  timers.advance(0);
  fail = true;
  store.apply({ type: 'upsert', object: ingress('a') });
  timers.advance(20);
  assert.equal(routeRef.version, 1);
  assert.deepEqual(hostsOf(routeRef.current), []);
});

test('diagnostics: logged when new (warn/error with kind/namespace/name/reason), not repeated, resolution logged', async () => {
  const { timers, store, controller, state, lines } = setup();
  const missing: Diagnostic = { severity: 'error', object: { kind: 'Ingress', namespace: 'shop', name: 'web' }, reason: 'ServiceNotFound', message: 'service shop/web not found' };
  const conflict: Diagnostic = { severity: 'warning', object: { kind: 'Ingress', namespace: 'shop', name: 'old' }, reason: 'RouteConflict', message: 'path / on a.test is also defined by shop/new' };
  state.diagnostics = [missing];
  await controller.start([]);
  timers.advance(0);
  for (let i = 0; i < 3; i++) {
    state.diagnostics = [missing, conflict];
    store.apply({ type: 'upsert', object: ingress(`x${i}`) });
    timers.advance(20);
  }
  state.diagnostics = [conflict];
  store.apply({ type: 'upsert', object: ingress('y') });
  timers.advance(20);

  const errors = lines.filter((l) => l.reason === 'ServiceNotFound' && l.level === 'error');
  assert.equal(errors.length, 1, 'logged once over four builds');
  assert.deepEqual(
    { kind: errors[0].kind, namespace: errors[0].namespace, name: errors[0].name, msg: errors[0].msg },
    { kind: 'Ingress', namespace: 'shop', name: 'web', msg: 'service shop/web not found' },
  );
  assert.equal(lines.filter((l) => l.reason === 'RouteConflict' && l.level === 'warn').length, 1);
  assert.equal(lines.filter((l) => l.reason === 'ServiceNotFound' && l.msg === 'diagnostic resolved').length, 1);
  assert.deepEqual(controller.diagnostics, [conflict]);
});

test('an unchanged RouteConfig is not swapped; build info is logged and published to hooks', async () => {
  const { timers, store, routeRef, controller, lines } = setup();
  const published: number[] = [];
  controller.onPublish((p) => published.push(p.generation));
  const builds: [boolean, number][] = [];
  controller.onBuild((b) => builds.push([b.swapped, b.generation]));
  await controller.start([]);
  timers.advance(0);
  // A relevant change that does not alter the fake translate's output (same host).
  store.apply({ type: 'upsert', object: { ...ingress('a'), metadata: { name: 'a', namespace: 'default', labels: { x: 'y' } } } });
  timers.advance(20);
  store.apply({ type: 'upsert', object: ingress('a') });
  timers.advance(20);
  assert.equal(routeRef.version, 2);
  assert.equal(controller.stats.unchanged, 1);
  assert.deepEqual(published, [1, 2]);
  assert.deepEqual(builds, [[true, 1], [true, 2], [false, 2]], 'onBuild also sees the build that swapped nothing');
  const info = lines.filter((l) => l.msg === 'route table published' || l.msg === 'first route table published; ready');
  assert.equal(info.length, 2);
  assert.equal(typeof info[0].durationMs, 'number');
  assert.equal(info[1].generation, 2);
});

test('a throwing swap listener does not stop readiness, publish hooks or other listeners', async () => {
  const { timers, routeRef, controller, lines } = setup();
  const seen: number[] = [];
  routeRef.onSwap(() => {
    throw new Error('listener bug');
  });
  routeRef.onSwap((_t, v) => seen.push(v));
  const published: number[] = [];
  controller.onPublish((p) => published.push(p.version));
  await controller.start([]);
  timers.advance(0);
  assert.equal(routeRef.version, 1);
  assert.equal(controller.ready, true);
  assert.deepEqual(seen, [1]);
  assert.deepEqual(published, [1]);
  assert.ok(lines.some((l) => l.level === 'error' && l.msg === 'a route table swap listener threw'));
});

test('beforeReady runs once, after the first table is live and before ready; a throwing one still lets it get ready', async () => {
  const calls: { generation: number; ready: boolean }[] = [];
  const holder: { controller?: Controller<Table>; routeRef?: RouteRef<Table> } = {};
  const { timers, store, controller, routeRef } = setup(() => calls.push({ generation: holder.routeRef!.current.generation, ready: holder.controller!.ready }));
  Object.assign(holder, { controller, routeRef });
  await controller.start([]);
  timers.advance(0);
  assert.deepEqual(calls, [{ generation: 1, ready: false }]);
  assert.equal(controller.ready, true);
  store.apply({ type: 'upsert', object: ingress('a') });
  timers.advance(1000);
  assert.equal(routeRef.current.generation, 2);
  assert.equal(calls.length, 1, 'only before the first ready');

  const failing = setup(() => {
    throw new Error('settle bug');
  });
  await failing.controller.start([]);
  failing.timers.advance(0);
  assert.equal(failing.controller.ready, true);
  assert.ok(failing.lines.some((l) => l.level === 'error' && l.msg === 'the before-ready step threw; ready anyway'));
});
