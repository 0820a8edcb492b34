// One memory-reducing full GC after the first route table, before the process reports ready.
//
// Building the first table (a list of 10,000 Ingresses and 50,000 endpoints, parsed, stored,
// translated, compiled) grows V8's young generation to its cap and leaves the old generation with
// free pages. V8 gives those back only at a full GC that it runs to reduce memory, and an idle
// controller never has one: it kept ~30 MiB of young generation and ~50 MiB of heap it did not
// use (bench/PROFILE.md section 6f). The GC runs before readiness, so no request waits for it.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** V8's gc() extension: `flavor: 'last-resort'` is a full GC that reduces memory (shrinks the young generation too). */
type GcFunction = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

let gcFunction: GcFunction | null | undefined;

/**
 * V8's gc(), obtained without exposing a global `gc` to the process: the flag is set only while a
 * fresh context is created (contexts created afterwards get no gc), then unset.
 */
function obtainGc(): GcFunction | null {
  if (gcFunction !== undefined) return gcFunction;
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return (gcFunction = existing as GcFunction);
  try {
    setFlagsFromString('--expose-gc');
    const fn: unknown = runInNewContext('gc');
    gcFunction = typeof fn === 'function' ? (fn as GcFunction) : null;
  } catch {
    gcFunction = null;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  return gcFunction;
}

export interface MemorySettled {
  readonly durationMs: number;
  readonly heapTotalBefore: number;
  readonly heapTotalAfter: number;
}

/** Runs one memory-reducing full GC; null if this runtime offers none. */
export function settleMemory(): MemorySettled | null {
  const gc = obtainGc();
  if (gc === null) return null;
  const heapTotalBefore = process.memoryUsage().heapTotal;
  const t0 = performance.now();
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return { durationMs: performance.now() - t0, heapTotalBefore, heapTotalAfter: process.memoryUsage().heapTotal };
}
