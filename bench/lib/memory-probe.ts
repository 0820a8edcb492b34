// Preloaded into the controller by the scale scenario (`node --expose-gc --import <this> src/main.ts`):
// on SIGUSR2, runs a full GC (when exposed) and writes process.memoryUsage() to $BENCH_MEMORY_FILE.
// Does nothing until asked, so the startup being timed is not disturbed by forced GCs.
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_MEMORY_FILE;
if (file) {
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('SIGUSR2', () => {
    const before = process.memoryUsage().rss;
    if (gc) {
      gc();
      gc();
    }
    const m = process.memoryUsage();
    writeFileSync(file, JSON.stringify({ at: Date.now(), rssBeforeGc: before, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers }));
  });
}
