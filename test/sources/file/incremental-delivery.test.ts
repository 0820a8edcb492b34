// The file source hands the store only the objects of the files that changed when it can
// (#deliverChanged). After every step of a seeded random sequence of file edits (new files, edits,
// removals, the same object in two files, objects moving between files), the store fed that way must
// hold exactly what a fresh FileSource reading the same folder from scratch gives. (Broken or emptied
// files are left out: what they keep depends on history by design; file-source.test.ts covers them.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSource } from '../../../src/sources/file/file-source.ts';
import { Store } from '../../../src/store/store.ts';
import { captureLogs } from '../../support/log-capture.ts';
import { seededRandom } from '../../canary/helpers.ts';

const FILES = ['a.yaml', 'b.yaml', 'c.yaml', 'sub-d.yaml', 'e.json'];
const NAMES = ['web', 'api', 'shop', 'docs', 'cart', 'auth', 'blog', 'feed', 'mail', 'news', 'pay', 'wiki'];

function object(random: () => number, kind: 'Ingress' | 'Service', name: string): string {
  const n = Math.floor(random() * 1000);
  return kind === 'Service'
    ? `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: ns}\nspec: {ports: [{port: ${80 + (n % 3)}}]}\n`
    : `apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: ${name}, namespace: ns}\nspec:\n  rules:\n  - host: h${n}.example.com\n    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: ${name}, port: {number: 80}}}}]}\n`;
}

function fileText(random: () => number, file: string): string {
  const docs: string[] = [];
  const count = 1 + Math.floor(random() * 3);
  for (let i = 0; i < count; i++) docs.push(object(random, random() < 0.5 ? 'Ingress' : 'Service', NAMES[Math.floor(random() * NAMES.length)]));
  if (file.endsWith('.json')) return JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: NAMES[Math.floor(random() * NAMES.length)], namespace: ns() }, spec: { ports: [{ port: 80 }] } });
  return docs.join('---\n');
  function ns(): string {
    return random() < 0.5 ? 'ns' : 'other';
  }
}

function contents(store: Store): unknown {
  const s = store.snapshot();
  return { ingresses: s.ingresses, services: s.services };
}

test('delivering only the changed files gives the store exactly what a full re-read gives', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-incremental-files-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const random = seededRandom(6);
  for (const file of FILES.slice(0, 3)) await writeFile(join(dir, file), fileText(random, file));
  const store = new Store();
  const source = new FileSource({ dir, sink: store, logger: captureLogs().logger, rescanIntervalMs: 0 });
  t.after(() => source.stop());
  await source.start();
  for (let step = 0; step < 150; step++) {
    // 1. One to three files written or removed.
    const touched = 1 + Math.floor(random() * 3);
    for (let i = 0; i < touched; i++) {
      const file = FILES[Math.floor(random() * FILES.length)];
      if (random() < 0.2) await unlink(join(dir, file)).catch(() => {});
      else await writeFile(join(dir, file), fileText(random, file));
    }
    await source.rescan();
    // 2. A fresh source over the same folder: the from-scratch answer.
    const fresh = new Store();
    const scratch = new FileSource({ dir, sink: fresh, logger: captureLogs().logger, rescanIntervalMs: 0 });
    await scratch.start();
    scratch.stop();
    assert.deepEqual(contents(store), contents(fresh), `step ${step}`);
    assert.equal(source.stats.objects, scratch.stats.objects, `objects counted at step ${step}`);
  }
});
