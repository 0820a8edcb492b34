// In-process cost of sending one change to the --workers workers, at scale, side by side:
//   full:  what the primary did before deltas: the whole RouteConfig in the message, serialized by
//          cluster's JSON channel once PER WORKER; the worker parses it and compiles it (new
//          objects: compile can reuse nothing).
//   delta: what it does now: a delta against the worker's generation, serialized ONCE into a
//          string payload; per worker the channel only serializes the message around that string;
//          the worker parses twice, patches its config and compiles with reuse.
// The manifests are loaded like bench/servers/rebuild-cost.ts; each change switches the probe
// route's backend. Usage: node bench/servers/worker-send-cost.ts <manifestsDir> <changes> <workers>
// (prints one JSON line; ms per change).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Store } from '../../src/store/store.ts';
import { translate } from '../../src/translate/translate.ts';
import { compile } from '../../src/compile/compile.ts';
import type { RouteConfig } from '../../src/model/route-config.ts';
import { CONTROLLER_NAME, type TranslateOptions } from '../../src/model/snapshot.ts';
import { KUBE_KINDS, type KubeKind, type KubeObject, type Ingress } from '../../src/model/kube.ts';
import { normalizeObject } from '../../src/sources/normalize.ts';
import { applyRouteConfigDelta, diffRouteConfig, type RouteConfigDelta } from '../../src/runtime/route-config-delta.ts';

function normalized(raw: unknown): KubeObject | null {
  const r = normalizeObject(raw);
  return r.ok ? r.object : null;
}

function files(d: string): string[] {
  return readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? files(p) : /\.ya?ml$/.test(f) ? [p] : [];
  });
}

const [dir, changesArg, workersArg] = process.argv.slice(2);
const changes = Number(changesArg ?? 20);
const workers = Number(workersArg ?? 2);

const byKind = new Map<KubeKind, KubeObject[]>(KUBE_KINDS.map((k) => [k, []]));
for (const file of files(dir!)) {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const o = normalized(doc.toJS());
    if (o && byKind.has(o.kind)) byKind.get(o.kind)!.push(o);
  }
}
const store = new Store();
for (const [kind, list] of byKind) store.replace(kind, list);
const options: TranslateOptions = { ingressClass: 'switchyard', controllerName: CONTROLLER_NAME, watchIngressWithoutClass: false, defaultBackendService: null };
const probe = byKind.get('Ingress')!.find((i) => i.metadata.name === 'probe') as Ingress | undefined;
if (!probe) throw new Error('no Ingress named "probe" in the manifests');

let primary: RouteConfig = translate(store.snapshot(), options).config;
// Each side's worker state: its config and compiled table (from a first full snapshot).
let fullTable = compile(JSON.parse(JSON.stringify(primary)) as RouteConfig, { generation: 1 });
let deltaTable = compile(JSON.parse(JSON.stringify(primary)) as RouteConfig, { generation: 1 });

interface Sample {
  /** Primary: serialization for all workers. */
  readonly primaryMs: number;
  /** One worker: parse (+ patch) + compile. */
  readonly workerMs: number;
  readonly compileMs: number;
  /** Bytes of one worker's message. */
  readonly bytes: number;
}
const full: Sample[] = [];
const delta: Sample[] = [];
for (let i = 0; i < changes; i++) {
  const service = i % 2 === 0 ? 'prop-b' : 'prop-a';
  store.apply({ type: 'upsert', object: normalized(JSON.parse(JSON.stringify(probe).replaceAll('"prop-a"', `"${service}"`)))! });
  const next = translate(store.snapshot(), options).config;
  const generation = i + 2;

  // Before: the object message, stringified by the channel once per worker.
  let t = performance.now();
  let text = '';
  for (let w = 0; w < workers; w++) text = JSON.stringify({ type: 'switchyard:routes', generation, config: next });
  const fullPrimary = performance.now() - t;
  t = performance.now();
  const fullConfig = (JSON.parse(text) as { config: RouteConfig }).config;
  const c0 = performance.now();
  fullTable = compile(fullConfig, { previous: fullTable, generation });
  const fullCompile = performance.now() - c0;
  full.push({ primaryMs: fullPrimary, workerMs: performance.now() - t, compileMs: fullCompile, bytes: text.length });

  // Now: diff + stringify once, then the channel's stringify of the small message per worker.
  t = performance.now();
  const payload = JSON.stringify(diffRouteConfig(primary, next));
  for (let w = 0; w < workers; w++) text = JSON.stringify({ type: 'switchyard:routes', generation, base: generation - 1, payload });
  const deltaPrimary = performance.now() - t;
  t = performance.now();
  const message = JSON.parse(text) as { payload: string };
  const patched = applyRouteConfigDelta(deltaTable.config, JSON.parse(message.payload) as RouteConfigDelta);
  const c1 = performance.now();
  deltaTable = compile(patched, { previous: deltaTable, generation });
  const deltaCompile = performance.now() - c1;
  delta.push({ primaryMs: deltaPrimary, workerMs: performance.now() - t, compileMs: deltaCompile, bytes: text.length });
  primary = next;
}
console.log(JSON.stringify({ workers, virtualHosts: primary.virtualHosts.length, upstreams: primary.upstreams.length, full, delta }));
