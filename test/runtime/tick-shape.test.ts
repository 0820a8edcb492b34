import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

// In a child with V8's natives syntax: after a full GC taken with no tick pending (what the settle
// GC and V8's idle memory reducer do), new tick objects still have the pinned one's hidden class,
// so the feedback of nextTick's optimized code stays monomorphic (bench/PROFILE.md section 11).
const CHILD = `
import { createHook } from 'node:async_hooks';
import { pinTickObjectShape } from ${JSON.stringify(new URL('../../src/runtime/tick-shape.ts', import.meta.url).href)};
import { settleMemory } from ${JSON.stringify(new URL('../../src/runtime/memory-settle.ts', import.meta.url).href)};
function freshTick() {
  let captured = null;
  const hook = createHook({ init(id, type, trigger, resource) { if (type === 'TickObject') captured ??= resource; } }).enable();
  process.nextTick(() => {});
  hook.disable();
  return captured;
}
const pinned = pinTickObjectShape();
const keys = Object.getOwnPropertySymbols(pinned).map((s) => s.description);
await new Promise((resolve) => setImmediate(resolve)); // every pending tick has run
const gc = settleMemory() !== null;
const fresh = freshTick();
console.log(JSON.stringify({ keys, sameAgain: pinTickObjectShape() === pinned, gc, sameClass: %HaveSameMap(pinned, fresh) }));
`;

test('a pinned tick object keeps the hidden class of tick objects through a full GC', () => {
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', CHILD], { encoding: 'utf8', timeout: 30_000 });
  const result = JSON.parse(out.trim().split('\n').at(-1)!) as { keys: string[]; sameAgain: boolean; gc: boolean; sameClass: boolean };
  assert.ok(result.keys.includes('async_id_symbol'), `a real tick object was pinned (keys ${result.keys.join(', ')})`);
  assert.equal(result.sameAgain, true, 'pinned once per process');
  assert.equal(result.gc, true, 'a full GC ran');
  assert.equal(result.sameClass, true, 'ticks made after the GC share the pinned hidden class');
});
