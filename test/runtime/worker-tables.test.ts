// The two ends of --workers table propagation without processes: TablePropagation (which
// generation reached every worker; a lost ack or a dead worker blocks nothing) and WorkerTables
// (a worker swaps only complete tables: full snapshot, delta on the right base, resync otherwise).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import type { RouteTable } from '../../src/compile/route-table.ts';
import type { RouteConfig } from '../../src/model/route-config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { diffRouteConfig } from '../../src/runtime/route-config-delta.ts';
import { RouteRef } from '../../src/runtime/route-ref.ts';
import { TablePropagation, type NotReached, type Reached } from '../../src/runtime/table-propagation.ts';
import { WorkerTables, type RoutesMessage, type WorkerEventMessage } from '../../src/runtime/workers.ts';
import { routeConfig } from '../compile/config-builder.ts';

function tracker(timeoutMs = 30_000): { p: TablePropagation; reached: Reached[]; notReached: NotReached[]; clock: { now: number } } {
  const reached: Reached[] = [];
  const notReached: NotReached[] = [];
  const clock = { now: 0 };
  const p = new TablePropagation({ onReached: (r) => reached.push(r), onNotReached: (r) => notReached.push(r), timeoutMs, now: () => clock.now });
  return { p, reached, notReached, clock };
}

test('TablePropagation: reached once every worker acked, with the time from publish', () => {
  const { p, reached, clock } = tracker();
  p.published(1, [10, 11]);
  clock.now = 5;
  p.swapped(10, 1);
  assert.equal(reached.length, 0);
  clock.now = 12;
  p.swapped(11, 1);
  assert.deepEqual(reached, [{ generation: 1, workers: 2, durationMs: 12 }]);
  assert.deepEqual(p.pending, []);
  p.published(2, []); // no listening worker: nothing tracked
  assert.deepEqual(p.pending, []);
});

test('TablePropagation: a later ack settles earlier generations; an exited worker is not waited for', () => {
  const { p, reached } = tracker();
  p.published(1, [10, 11]);
  p.published(2, [10, 11]);
  p.swapped(10, 2); // its ack for 1 was lost or coalesced
  p.swapped(11, 1);
  assert.deepEqual(reached.map((r) => r.generation), [1]);
  p.published(3, [10, 11, 12]);
  p.left(11);
  p.swapped(10, 3);
  p.swapped(12, 3);
  assert.deepEqual(reached.map((r) => r.generation), [1, 2, 3]);
});

test('TablePropagation: a compile failure and a silent worker are reported, later generations still complete', async () => {
  const { p, reached, notReached } = tracker(30);
  p.published(1, [10, 11]);
  p.swapped(10, 1);
  p.failed(11, 1);
  assert.deepEqual(notReached, [{ generation: 1, workers: 2, failed: [11], missing: [], reason: 'WorkerFailed' }]);
  p.published(2, [10, 11]);
  p.swapped(10, 2); // 11 never answers 2
  p.published(3, [10]); // 11 has left the listening set meanwhile (not waited for in 3)
  p.swapped(10, 3);
  assert.deepEqual(reached.map((r) => r.generation), [3]);
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(notReached.at(-1), { generation: 2, workers: 2, failed: [], missing: [11], reason: 'NoAck' });
  assert.deepEqual(p.pending, []);
});

function worker(afterFirstSwap?: () => void): { tables: WorkerTables; routeRef: RouteRef<RouteTable>; events: WorkerEventMessage[]; failNext: { on: boolean } } {
  const routeRef = new RouteRef<RouteTable>(compile({ virtualHosts: [], upstreams: [], defaultBackend: null }, { generation: 0 }));
  const events: WorkerEventMessage[] = [];
  const failNext = { on: false };
  const tables = new WorkerTables({
    routeRef,
    logger: createLogger({ level: 'silent' }),
    compile: (config, previous, generation) => {
      if (failNext.on) throw new Error('compile bug');
      return compile(config, { previous, generation });
    },
    send: (e) => events.push(e),
    afterFirstSwap,
  });
  return { tables, routeRef, events, failNext };
}

const fullMessage = (generation: number, config: RouteConfig): RoutesMessage => ({ type: 'switchyard:routes', generation, base: null, payload: JSON.stringify(config) });
const deltaMessage = (generation: number, base: number, from: RouteConfig, to: RouteConfig): RoutesMessage => ({ type: 'switchyard:routes', generation, base, payload: JSON.stringify(diffRouteConfig(from, to)) });
const one = routeConfig({ hosts: [{ host: 'a.test', routes: [{ path: '/', upstream: null }] }] });
const two = { ...one, virtualHosts: [...one.virtualHosts, ...routeConfig({ hosts: [{ host: 'b.test', routes: [{ path: '/', upstream: null }] }] }).virtualHosts] };
const three = { ...two, virtualHosts: [two.virtualHosts[1]!] };

test('WorkerTables: full snapshot, then deltas on the held generation; each swapped and acked', () => {
  const w = worker();
  w.tables.receive({ type: 'something else' });
  w.tables.receive(fullMessage(1, one));
  w.tables.receive(deltaMessage(2, 1, one, two));
  assert.equal(w.routeRef.current.generation, 2);
  assert.deepEqual(w.routeRef.current.config, JSON.parse(JSON.stringify(two)));
  w.tables.receive(deltaMessage(3, 2, two, three));
  assert.deepEqual(w.routeRef.current.config.virtualHosts.map((v) => v.host), ['b.test']);
  assert.deepEqual(w.events, [1, 2, 3].map((generation) => ({ type: 'switchyard:swapped', generation })));
});

test('WorkerTables: a delta on a base it does not hold swaps nothing and asks for a full snapshot; a broken snapshot is a failure', () => {
  const w = worker();
  w.tables.receive(deltaMessage(2, 1, one, two)); // a new worker that never got generation 1
  assert.equal(w.routeRef.current.generation, 0);
  w.tables.receive(fullMessage(1, one));
  w.tables.receive(deltaMessage(3, 2, two, three)); // it holds 1, not 2
  assert.equal(w.routeRef.current.generation, 1, 'the last complete table keeps serving');
  w.tables.receive({ type: 'switchyard:routes', generation: 4, base: null, payload: '{not json' });
  assert.equal(w.routeRef.current.generation, 1);
  assert.deepEqual(w.events, [
    { type: 'switchyard:resync', generation: 2 },
    { type: 'switchyard:swapped', generation: 1 },
    { type: 'switchyard:resync', generation: 3 },
    { type: 'switchyard:failed', generation: 4 }, // an unreadable full snapshot: no resync loop
  ]);
});

test('WorkerTables: a compile failure keeps the last good table and is reported; the next delta still applies', () => {
  const w = worker();
  w.tables.receive(fullMessage(1, one));
  w.failNext.on = true;
  w.tables.receive(deltaMessage(2, 1, one, two));
  assert.equal(w.routeRef.current.generation, 1);
  w.failNext.on = false;
  w.tables.receive(deltaMessage(3, 2, two, three)); // the config of 2 was complete: it is the base
  assert.equal(w.routeRef.current.generation, 3);
  assert.deepEqual(w.events.map((e) => `${e.type} ${e.generation}`), ['switchyard:swapped 1', 'switchyard:failed 2', 'switchyard:swapped 3']);
});

test('WorkerTables: afterFirstSwap runs once, after the first table that swaps and before it is acked', () => {
  const seen: string[] = [];
  const holder: { w?: ReturnType<typeof worker> } = {};
  const w = worker(() => seen.push(`generation ${holder.w!.routeRef.current.generation}, acks ${holder.w!.events.length}`));
  holder.w = w;
  w.tables.receive({ type: 'switchyard:routes', generation: 1, base: null, payload: '{not json' }); // nothing swapped: not yet
  w.tables.receive(fullMessage(2, one));
  w.tables.receive(deltaMessage(3, 2, one, two));
  assert.deepEqual(seen, ['generation 2, acks 1'], 'after the failure report, before the ack of 2, once');
});
