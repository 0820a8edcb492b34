// Preloaded into the controller by the scale scenario (`node --expose-gc --import <this> src/main.ts`):
// every 200 ms writes process.memoryUsage() (after a full GC when exposed) to $BENCH_MEMORY_FILE.
// Touches nothing in the controller; the timer is unref'd so it never keeps the process alive.
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_MEMORY_FILE;
if (file) {
  const gc = (globalThis as { gc?: () => void }).gc;
  let samples = 0;
  const timer = setInterval(() => {
    // A full GC every 5th sample only: settled heap figures without burning the controller's CPU.
    if (gc && samples++ % 5 === 0) gc();
    const m = process.memoryUsage();
    writeFileSync(file, JSON.stringify({ at: Date.now(), rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers }));
  }, 200);
  timer.unref();
}
