// In-process rebuild cost at scale: loads a --manifests folder into a real Store, then applies
// `changes` one-Ingress changes (the probe route's backend switched), then `changes` one-EndpointSlice
// changes, and times each stage of the rebuild the controller runs per change: store.snapshot(),
// translate(), compile().
// Usage: node bench/servers/rebuild-cost.ts <manifestsDir> <changes>   (prints one JSON line)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Store } from '../../src/store/store.ts';
import { translate } from '../../src/translate/translate.ts';
import { compile } from '../../src/compile/compile.ts';
import { CONTROLLER_NAME, type TranslateOptions } from '../../src/model/snapshot.ts';
import { KUBE_KINDS, type KubeKind, type KubeObject, type Ingress } from '../../src/model/kube.ts';
import { normalizeObject } from '../../src/sources/normalize.ts';

/** What the sources hand the store: normalized, frozen objects (translate memoizes on them). */
function normalized(raw: unknown): KubeObject | null {
  const r = normalizeObject(raw);
  return r.ok ? r.object : null;
}

const [dir, changesArg] = process.argv.slice(2);
const changes = Number(changesArg ?? 20);

function files(d: string): string[] {
  return readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? files(p) : /\.ya?ml$/.test(f) ? [p] : [];
  });
}

const t0 = performance.now();
const byKind = new Map<KubeKind, KubeObject[]>(KUBE_KINDS.map((k) => [k, []]));
for (const file of files(dir)) {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const o = normalized(doc.toJS());
    if (o && byKind.has(o.kind)) byKind.get(o.kind)!.push(o);
  }
}
const parseMs = performance.now() - t0;
const store = new Store();
for (const [kind, list] of byKind) store.replace(kind, list);
const options: TranslateOptions = { ingressClass: 'switchyard', controllerName: CONTROLLER_NAME, watchIngressWithoutClass: false, defaultBackendService: null };

const t1 = performance.now();
let table = compile(translate(store.snapshot(), options).config);
const firstBuildMs = performance.now() - t1;

const probe = byKind.get('Ingress')!.find((i) => i.metadata.name === 'probe') as Ingress | undefined;
if (!probe) throw new Error('no Ingress named "probe" in the manifests');
const samples: { snapshot: number; translate: number; compile: number; total: number }[] = [];
for (let i = 0; i < changes; i++) {
  const service = i % 2 === 0 ? 'prop-b' : 'prop-a';
  const next = normalized(JSON.parse(JSON.stringify(probe).replaceAll('"prop-a"', `"${service}"`)))!;
  store.apply({ type: 'upsert', object: next });
  const a = performance.now();
  const snapshot = store.snapshot();
  const b = performance.now();
  const { config } = translate(snapshot, options);
  const c = performance.now();
  table = compile(config, { previous: table });
  const d = performance.now();
  samples.push({ snapshot: b - a, translate: c - b, compile: d - c, total: d - a });
}
// The other common change: one EndpointSlice (a bulk Service's first endpoint flips ready).
const slice = byKind.get('EndpointSlice')!.find((s) => s.metadata.name !== 'prop-a-1' && s.metadata.name !== 'prop-b-1');
const endpointSamples: typeof samples = [];
for (let i = 0; slice !== undefined && i < changes; i++) {
  const next = normalized(JSON.parse(JSON.stringify(slice).replace('"ready":true', i % 2 === 0 ? '"ready":false' : '"ready":true')))!;
  store.apply({ type: 'upsert', object: next });
  const a = performance.now();
  const snapshot = store.snapshot();
  const b = performance.now();
  const { config } = translate(snapshot, options);
  const c = performance.now();
  table = compile(config, { previous: table });
  const d = performance.now();
  endpointSamples.push({ snapshot: b - a, translate: c - b, compile: d - c, total: d - a });
}
const m = process.memoryUsage();
console.log(JSON.stringify({ parseMs, firstBuildMs, samples, endpointSamples, counts: Object.fromEntries([...byKind].map(([k, v]) => [k, v.length])), rss: m.rss, heapUsed: m.heapUsed }));
