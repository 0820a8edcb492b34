// Where the heap goes at scale (bench/PROFILE.md section 6), not part of `npm run bench`:
//   node --expose-gc bench/heap-breakdown.ts [--ingresses 10000] [--top 40]
//   node bench/heap-breakdown.ts --snapshot FILE   (a snapshot written elsewhere, e.g. by
//     `node bench/kube-scale.ts --heap-snapshot FILE`: the kube source's controller)
// Runs the controller in this process (file source on a generated folder, as the scale scenario),
// waits for the first table, takes a heap snapshot after a full GC (v8.writeHeapSnapshot) and
// prints self sizes summed per constructor / node type, largest first. Self sizes, not retained
// sizes: enough to see which kind of object dominates; open the .heapsnapshot in Chrome DevTools
// for retainers.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeHeapSnapshot } from 'node:v8';
import { ManifestDir, ingressClassYaml, writeBulk } from './lib/manifests.ts';

const { values } = parseArgs({ options: { ingresses: { type: 'string', default: '10000' }, top: { type: 'string', default: '40' }, snapshot: { type: 'string' } } });
const root = mkdtempSync(join(tmpdir(), 'swy-heap-'));
const file = values.snapshot ?? await snapshotOfFileSource(root, Number(values.ingresses));

/** Runs the controller on a generated folder and writes a snapshot of this process after a full GC. */
async function snapshotOfFileSource(root: string, ingresses: number): Promise<string> {
  const dir = new ManifestDir(root);
  dir.write('class.yaml', ingressClassYaml());
  writeBulk(dir, ingresses);
  const { parseConfig } = await import('../src/config.ts');
  const { startSwitchyard } = await import('../src/main.ts');
  const { createLogger } = await import('../src/observability/logger.ts');
  const outcome = parseConfig(['--manifests', root, '--http-port', '0', '--https-port', '0', '--admin-port', '0', '--bind-address', '127.0.0.1', '--admin-bind-address', '127.0.0.1', '--log-level', 'warn'], {});
  if (outcome.kind !== 'run') throw new Error('bad config');
  const app = await startSwitchyard(outcome.config, createLogger({ level: 'warn' }));
  await app.controller.whenReady();
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  process.stderr.write(`ready: heap used ${(m.heapUsed / 1048576).toFixed(1)} MiB, RSS ${(m.rss / 1048576).toFixed(1)} MiB; writing snapshot\n`);
  const written = writeHeapSnapshot(join(root, 'scale.heapsnapshot'));
  await app.close(0);
  return written;
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const fields = snap.snapshot.meta.node_fields;
const width = fields.length;
const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
const types = snap.snapshot.meta.node_types[0];
const sums = new Map<string, { bytes: number; count: number }>();
let total = 0;
for (let i = 0; i < snap.nodes.length; i += width) {
  const type = types[snap.nodes[i + typeAt]];
  // Objects by constructor name; strings, code, arrays and hidden internals by their type.
  const key = type === 'object' || type === 'closure' ? `${type} ${snap.strings[snap.nodes[i + nameAt]]}` : type;
  const size = snap.nodes[i + sizeAt];
  total += size;
  const s = sums.get(key) ?? { bytes: 0, count: 0 };
  s.bytes += size;
  s.count++;
  sums.set(key, s);
}
// Strings held more than once with the same value: what interning or sharing would save.
const byValue = new Map<string, { bytes: number; count: number }>();
for (let i = 0; i < snap.nodes.length; i += width) {
  const type = types[snap.nodes[i + typeAt]];
  if (type !== 'string' && type !== 'concatenated string' && type !== 'sliced string') continue;
  const value = snap.strings[snap.nodes[i + nameAt]];
  const s = byValue.get(value) ?? { bytes: 0, count: 0 };
  s.bytes += snap.nodes[i + sizeAt];
  s.count++;
  byValue.set(value, s);
}
// Group duplicates by the value's shape (digits -> #) to see which kind of key repeats.
const byShape = new Map<string, { wasted: number; values: number; example: string }>();
for (const [value, s] of byValue) {
  if (s.count < 2) continue;
  const shape = value.slice(0, 80).replace(/\d+/g, '#');
  const g = byShape.get(shape) ?? { wasted: 0, values: 0, example: value.slice(0, 80) };
  g.wasted += s.bytes - s.bytes / s.count;
  g.values++;
  byShape.set(shape, g);
}
console.log('duplicated strings by shape (bytes beyond one copy each):');
for (const [shape, g] of [...byShape].sort((a, b) => b[1].wasted - a[1].wasted).slice(0, 15)) {
  console.log(`${(g.wasted / 1048576).toFixed(1).padStart(7)} MiB ${String(g.values).padStart(7)} values  ${JSON.stringify(shape)}`);
}
console.log(`total self size ${(total / 1048576).toFixed(1)} MiB`);
for (const [key, s] of [...sums].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, Number(values.top))) {
  console.log(`${(s.bytes / 1048576).toFixed(1).padStart(7)} MiB ${String(s.count).padStart(9)}  ${key.slice(0, 100)}`);
}
rmSync(root, { recursive: true, force: true });
