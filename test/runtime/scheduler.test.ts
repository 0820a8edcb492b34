import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from '../../src/runtime/scheduler.ts';
import { FakeTimers } from './fake-timers.ts';

function setup(holdoffMs = 20, maxHoldoffMs = 200, leadingEdge = true) {
  const timers = new FakeTimers();
  const runs: number[] = [];
  const scheduler = new Scheduler({ holdoffMs, maxHoldoffMs, leadingEdge, timers, run: () => void runs.push(timers.now()) });
  return { timers, runs, scheduler };
}

test('nothing runs before the sync gate opens; opening it runs once, at once', () => {
  const { timers, runs, scheduler } = setup();
  for (let i = 0; i < 10; i++) {
    scheduler.notify();
    timers.advance(100);
  }
  assert.deepEqual(runs, []);
  assert.equal(timers.pendingTimers, 0);
  scheduler.openGate();
  timers.advance(0);
  assert.deepEqual(runs, [1000]);
  scheduler.openGate(); // idempotent
  timers.advance(1000);
  assert.deepEqual(runs, [1000]);
});

test('the gate opens with no pending change: the first (possibly empty) table is still built', () => {
  const { timers, runs, scheduler } = setup();
  scheduler.openGate();
  timers.advance(0);
  assert.equal(runs.length, 1);
});

test('one change after a quiet spell runs at once (leading edge), in the next macrotask', () => {
  const { timers, runs, scheduler } = setup();
  scheduler.openGate();
  timers.advance(0);
  timers.advance(1000);
  scheduler.notify();
  scheduler.notify(); // the same event-loop turn: joins that run
  assert.deepEqual(runs, [0], 'not inside notify()');
  timers.advance(0);
  assert.deepEqual(runs, [0, 1000]);
  timers.advance(1000);
  assert.deepEqual(runs, [0, 1000], 'one run for both');
});

test('leadingEdge: false: one change runs holdoff after it', () => {
  const { timers, runs, scheduler } = setup(20, 200, false);
  scheduler.openGate();
  timers.advance(0);
  timers.advance(1000);
  scheduler.notify();
  timers.advance(19);
  assert.equal(runs.length, 1);
  timers.advance(1);
  assert.deepEqual(runs, [0, 1020]);
});

test('a burst after a quiet spell: its first change runs at once, the rest coalesce holdoff after the last', () => {
  const { timers, runs, scheduler } = setup();
  scheduler.openGate();
  timers.advance(0);
  timers.advance(1000);
  for (let i = 0; i < 5; i++) {
    scheduler.notify();
    timers.advance(10);
  }
  // first at t=1000 -> run at 1000; last change at t=1040 -> run at 1060
  timers.advance(100);
  assert.deepEqual(runs, [0, 1000, 1060]);
});

test('changes closer together than the holdoff never run at once: only the first after quiet does', () => {
  const { timers, runs, scheduler } = setup();
  scheduler.openGate();
  timers.advance(0);
  timers.advance(1000);
  scheduler.notify(); // quiet: at once
  timers.advance(0);
  timers.advance(15);
  scheduler.notify(); // 15 ms after the run: trailing
  timers.advance(15);
  assert.deepEqual(runs, [0, 1000]);
  timers.advance(5);
  assert.deepEqual(runs, [0, 1000, 1035]);
  timers.advance(25);
  scheduler.notify(); // 25 ms after the last change and run: quiet again
  timers.advance(0);
  assert.deepEqual(runs, [0, 1000, 1035, 1060]);
});

test('a burst coalesces into one run, holdoff after the last change', () => {
  const { timers, runs, scheduler } = setup();
  scheduler.openGate();
  timers.advance(0);
  for (let i = 0; i < 5; i++) {
    scheduler.notify();
    timers.advance(10);
  }
  // last change at t=40 -> run at t=60
  timers.advance(100);
  assert.deepEqual(runs, [0, 60]);
});

test('a steady stream is capped by the max holdoff after the first pending change', () => {
  const { timers, runs, scheduler } = setup(20, 200);
  scheduler.openGate();
  timers.advance(0);
  // A change every 5ms for 1s: the holdoff alone would never expire.
  for (let t = 0; t < 1000; t += 5) {
    scheduler.notify();
    timers.advance(5);
  }
  timers.advance(100);
  assert.deepEqual(runs, [0, 200, 400, 600, 800, 1000]);
  for (let i = 1; i < runs.length - 1; i++) assert.ok(runs[i] - runs[i - 1] <= 205, 'never more than max holdoff (+one change interval) apart');
});

test('a throwing run is reported and does not stop later runs', () => {
  const timers = new FakeTimers();
  const errors: unknown[] = [];
  let n = 0;
  const scheduler = new Scheduler({
    holdoffMs: 20, maxHoldoffMs: 200, timers, onError: (e) => errors.push(e),
    run: () => {
      n++;
      if (n === 1) throw new Error('boom');
    },
  });
  scheduler.openGate();
  timers.advance(0);
  scheduler.notify();
  timers.advance(20);
  assert.equal(n, 2);
  assert.equal(errors.length, 1);
});

test('async run: changes during the run produce exactly one more run', async () => {
  const timers = new FakeTimers();
  let release!: () => void;
  let runs = 0;
  const scheduler = new Scheduler({
    holdoffMs: 20, maxHoldoffMs: 200, timers,
    run: () => {
      runs++;
      return new Promise<void>((r) => (release = r));
    },
  });
  scheduler.openGate();
  timers.advance(0);
  assert.equal(runs, 1);
  scheduler.notify();
  scheduler.notify();
  timers.advance(100);
  assert.equal(runs, 1, 'no overlap');
  release();
  await new Promise((r) => setImmediate(r));
  timers.advance(20);
  assert.equal(runs, 2);
  release();
  await new Promise((r) => setImmediate(r));
  timers.advance(1000);
  assert.equal(runs, 2);
});

test('close cancels pending work', () => {
  const { timers, runs, scheduler } = setup();
  scheduler.openGate();
  timers.advance(0);
  scheduler.notify();
  scheduler.close();
  timers.advance(1000);
  scheduler.notify();
  timers.advance(1000);
  assert.deepEqual(runs, [0]);
});
