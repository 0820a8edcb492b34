// Preloaded into the controller by the scale scenario (`node --expose-gc --import <this> src/main.ts`):
// on SIGUSR2, runs a full GC (when exposed) and writes process.memoryUsage() to $BENCH_MEMORY_FILE,
// with the young generation's size and the semi-space flag the process runs with (what it costs
// in RSS is the point of bench/PROFILE.md section 6).
import { writeFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';

const file = process.env.BENCH_MEMORY_FILE;
if (file) {
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('SIGUSR2', () => {
    const before = process.memoryUsage().rss;
    // Before the forced GC: what the young generation holds while running (a full GC shrinks it).
    const newSpace = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.physical_space_size ?? 0;
    if (gc) {
      gc();
      gc();
    }
    const m = process.memoryUsage();
    const flags = [...(process.env.NODE_OPTIONS ?? '').split(/\s+/), ...process.execArgv];
    const semiSpaceFlag = flags.filter((a) => a.startsWith('--max-semi-space-size')).at(-1) ?? '';
    writeFileSync(file, JSON.stringify({ at: Date.now(), rssBeforeGc: before, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, newSpace, semiSpaceFlag }));
  });
}
