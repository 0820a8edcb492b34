import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { runInNewContext } from 'node:vm';
import { settleMemory } from '../../src/runtime/memory-settle.ts';

test('settleMemory runs one real full GC and exposes no global gc', async () => {
  const kinds: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) kinds.push((entry as unknown as { detail: { kind: number } }).detail.kind);
  });
  observer.observe({ entryTypes: ['gc'] });
  // Garbage for it to collect: ~40 MiB of short-lived objects.
  let garbage: object[] | null = Array.from({ length: 400_000 }, (_, i) => ({ i, s: `item-${i}` }));
  assert.equal(garbage.length, 400_000);
  garbage = null;
  const settled = settleMemory();
  assert.ok(settled !== null, 'Node 24 offers V8 gc() via a fresh context');
  assert.ok(settled.durationMs >= 0);
  assert.ok(settled.heapTotalAfter <= settled.heapTotalBefore, `heap ${settled.heapTotalBefore} -> ${settled.heapTotalAfter}`);
  await new Promise((resolve) => setTimeout(resolve, 50)); // gc entries are delivered asynchronously
  observer.disconnect();
  assert.ok(kinds.includes(constants.NODE_PERFORMANCE_GC_MAJOR), `a major GC was observed (kinds ${kinds.join(',')})`);
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
  assert.equal(runInNewContext('typeof gc'), 'undefined', 'contexts created afterwards get no gc either');
  assert.ok(settleMemory() !== null, 'and it runs again');
});
