// Keeps one of node's tick objects alive for the life of the process.
//
// process.nextTick builds each tick object as an object literal with computed (symbol) keys. V8
// keeps the hidden classes of such an object only while one is alive: their transitions are weak.
// A full GC at a moment with no tick pending (the settle GC before ready, V8's memory reducer once
// the proxy goes idle) frees them, the next ticks get new hidden classes, the feedback nextTick's
// optimized code is built from turns megamorphic, and that code then calls into V8's runtime for
// every computed key: about 10,000 more instructions per proxied request (two or three ticks each), for
// the rest of the process's life (bench/PROFILE.md section 11). One tick object kept alive keeps
// those hidden classes, so new ticks reuse them.

import { createHook } from 'node:async_hooks';

let pinned: object | null = null;

function noop(): void {}

/**
 * Captures one tick object (an async hook on for this one call) and keeps it. Returns it, or null
 * if this Node does not report tick objects to init hooks. Call it early: once the hidden classes
 * have been freed, keeping a new object only helps with later GCs.
 */
export function pinTickObjectShape(): object | null {
  if (pinned !== null) return pinned;
  let captured: object | null = null;
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      if (type === 'TickObject' && captured === null) captured = resource as object;
    },
  });
  hook.enable();
  try {
    process.nextTick(noop);
  } finally {
    hook.disable();
  }
  pinned = captured;
  return pinned;
}
