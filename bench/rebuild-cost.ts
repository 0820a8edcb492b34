// Rebuild cost at scale, in process (not part of `npm test`):
//   ./node_modules/.bin/node --expose-gc bench/rebuild-cost.ts [--sizes 1000,10000] [--changes 50] [--balancing] [--json out.json]
// For each size N (one child process per size, so heap/RSS are not shared): N Ingresses, each with
// its own Service and a 5-endpoint EndpointSlice (5N endpoints; 10,000 -> 50,000), objects deeply
// frozen as the sources hand them over (normalizeObject). Then, through the real Store and
// Controller (translate + compile with per-route metric binding, as main.ts wires them; with
// --balancing also the per-upstream balancers and passive-health registry main.ts passes):
//   - time to first table (store load + first rebuild), heap and RSS after it;
//   - per one-Ingress change (the probe Ingress switching its backend Service) and per
//     one-EndpointSlice change (one endpoint of a bulk Service flipping ready): the stages
//     store.snapshot(), translate(), compile() and the controller's whole rebuild (p50/p99/max ms);
//   - the longest single rebuild (the longest the event loop is blocked by a change).
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { compile } from '../src/compile/compile.ts';
import { Balancing } from '../src/proxy/balancers/balancing.ts';
import type { RouteTable } from '../src/compile/route-table.ts';
import type { KubeObject } from '../src/model/kube.ts';
import type { RouteConfig } from '../src/model/route-config.ts';
import { CONTROLLER_NAME, type Snapshot, type TranslateOptions } from '../src/model/snapshot.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { RouteSeriesSet } from '../src/observability/route-metrics.ts';
import { Controller } from '../src/runtime/controller.ts';
import { RouteRef } from '../src/runtime/route-ref.ts';
import { normalizeObject } from '../src/sources/normalize.ts';
import { Store } from '../src/store/store.ts';
import { translate } from '../src/translate/translate.ts';

const ENDPOINTS_PER_SERVICE = 5;
const NS = 'bench';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i !== -1 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function obj(raw: unknown): KubeObject {
  const r = normalizeObject(raw);
  if (!r.ok) throw new Error(r.reason);
  return r.object;
}

function service(name: string): KubeObject {
  return obj({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS, resourceVersion: '1' }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
}

function slice(name: string, addresses: readonly string[], rv: string, notReady = -1): KubeObject {
  return obj({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-1`, namespace: NS, resourceVersion: rv, labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: addresses.map((a, i) => ({ addresses: [a], conditions: { ready: i !== notReady } })),
  });
}

function ingress(name: string, host: string, svc: string, rv: string, created: string): KubeObject {
  return obj({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: NS, resourceVersion: rv, creationTimestamp: created },
    spec: {
      ingressClassName: 'switchyard',
      rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: svc, port: { number: 80 } } } }] } }],
    },
  });
}

function addressesOf(i: number): string[] {
  const out: string[] = [];
  for (let e = 0; e < ENDPOINTS_PER_SERVICE; e++) {
    const n = i * ENDPOINTS_PER_SERVICE + e;
    out.push(`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`);
  }
  return out;
}

function created(i: number): string {
  return new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString().replace('.000Z', 'Z');
}

function stats(values: number[]): { p50: number; p99: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  const r = (x: number): number => Math.round(x * 100) / 100;
  return { p50: r(at(0.5)), p99: r(at(0.99)), max: r(s[s.length - 1]) };
}

const MiB = 1024 * 1024;

function memory(): { heapUsedMiB: number; rssMiB: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { heapUsedMiB: Math.round(m.heapUsed / MiB), rssMiB: Math.round(m.rss / MiB) };
}

interface Stage {
  snapshot: number;
  translate: number;
  compile: number;
  total: number;
  /** CPU time of the whole rebuild (user + system), ms: on a busy shared machine wall time overstates it. */
  cpu: number;
}

async function runSize(size: number, changes: number, withBalancing: boolean): Promise<unknown> {
  const options: TranslateOptions = { ingressClass: 'switchyard', controllerName: CONTROLLER_NAME, watchIngressWithoutClass: false, defaultBackendService: null };
  const t0 = performance.now();
  const objects: KubeObject[] = [obj({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'switchyard' }, spec: { controller: CONTROLLER_NAME } })];
  for (let i = 0; i < size; i++) {
    objects.push(service(`svc-${i}`), slice(`svc-${i}`, addressesOf(i), '1'), ingress(`ing-${i}`, `h${i}.bench.local`, `svc-${i}`, '1', created(i)));
  }
  for (const name of ['prop-a', 'prop-b']) objects.push(service(name), slice(name, ['127.0.0.1'], '1'));
  objects.push(ingress('probe', 'probe.bench.local', 'prop-a', '1', created(size)));
  const generateMs = performance.now() - t0;

  // The pipeline main.ts wires, with the stages timed.
  const store = new Store();
  const series = new RouteSeriesSet({ enabled: true, statusClass: false });
  // Passive health / balancers per upstream, as main.ts builds them (--balancing).
  const balancing = withBalancing ? new Balancing({ logger: silentLogger() }) : null;
  const routeRef = new RouteRef<RouteTable>(compile({ virtualHosts: [], defaultBackend: null, upstreams: [] }, { generation: 0 }));
  let stage: Stage = { snapshot: 0, translate: 0, compile: 0, total: 0, cpu: 0 };
  const timedStore = {
    snapshot: (): Snapshot => {
      const a = performance.now();
      const s = store.snapshot();
      stage.snapshot = performance.now() - a;
      return s;
    },
    onChange: (listener: () => void) => store.onChange(listener),
  };
  const controller = new Controller<RouteTable>({
    store: timedStore,
    routeRef,
    translate: (snapshot, o) => {
      const a = performance.now();
      const r = translate(snapshot, o);
      stage.translate = performance.now() - a;
      return r;
    },
    compile: (config: RouteConfig, previous: RouteTable) => {
      const a = performance.now();
      const binder = series.binder();
      const table = compile(config, { previous, metrics: binder, ...(balancing !== null ? { balancing } : {}) });
      series.commit(binder);
      stage.compile = performance.now() - a;
      return table;
    },
    translateOptions: options,
    logger: silentLogger(),
    holdoffMs: 1_000_000,
    maxHoldoffMs: 1_000_000,
  });
  const rebuild = (): Stage => {
    stage = { snapshot: 0, translate: 0, compile: 0, total: 0, cpu: 0 };
    const cpu = process.cpuUsage();
    const a = performance.now();
    controller.rebuild();
    stage.total = performance.now() - a;
    const used = process.cpuUsage(cpu);
    stage.cpu = (used.user + used.system) / 1000;
    if (controller.lastError !== null) throw controller.lastError;
    return stage;
  };

  const t1 = performance.now();
  for (const kind of ['IngressClass', 'Service', 'EndpointSlice', 'Ingress'] as const) store.replace(kind, objects.filter((o) => o.kind === kind));
  const loadMs = performance.now() - t1;
  const first = rebuild();
  const firstTableMs = performance.now() - t1;
  const afterFirst = memory();

  // Warm-up (JIT), not recorded.
  let rv = 2;
  const ingressChange = (i: number): void => {
    store.apply({ type: 'upsert', object: ingress('probe', 'probe.bench.local', i % 2 === 0 ? 'prop-b' : 'prop-a', String(rv++), created(size)) });
  };
  const sliceChange = (i: number): void => {
    const n = (i * 7919) % size;
    store.apply({ type: 'upsert', object: slice(`svc-${n}`, addressesOf(n), String(rv++), i % ENDPOINTS_PER_SERVICE) });
  };
  for (let i = 0; i < 5; i++) {
    ingressChange(i);
    rebuild();
    sliceChange(i);
    rebuild();
  }

  const perIngress: Stage[] = [];
  const perSlice: Stage[] = [];
  for (let i = 0; i < changes; i++) {
    ingressChange(i);
    perIngress.push(rebuild());
    sliceChange(i + 5);
    perSlice.push(rebuild());
  }
  if (routeRef.current.find('probe.bench.local', '/')?.upstream?.key === undefined) throw new Error('the probe route is not served');
  const summarize = (list: Stage[]) => ({
    snapshot: stats(list.map((s) => s.snapshot)),
    translate: stats(list.map((s) => s.translate)),
    compile: stats(list.map((s) => s.compile)),
    total: stats(list.map((s) => s.total)),
    cpu: stats(list.map((s) => s.cpu)),
  });
  return {
    ingresses: size + 1,
    balancing: withBalancing,
    endpoints: size * ENDPOINTS_PER_SERVICE + 2,
    generateMs: Math.round(generateMs),
    loadMs: Math.round(loadMs),
    firstRebuild: { snapshot: Math.round(first.snapshot), translate: Math.round(first.translate), compile: Math.round(first.compile), total: Math.round(first.total) },
    timeToFirstTableMs: Math.round(firstTableMs),
    afterFirstTable: afterFirst,
    changes,
    oneIngressChangeMs: summarize(perIngress),
    oneEndpointSliceChangeMs: summarize(perSlice),
    afterChanges: memory(),
  };
}

function table(results: { size: number; result: Record<string, any> }[]): string {
  const lines = [
    '| Ingresses / endpoints | change | snapshot | translate | compile | whole rebuild p50 / p99 / max | CPU p50 |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const { result: r } of results) {
    for (const [label, key] of [['one Ingress', 'oneIngressChangeMs'], ['one EndpointSlice', 'oneEndpointSliceChangeMs']] as const) {
      const s = r[key];
      lines.push(
        `| ${r.ingresses.toLocaleString('en')} / ${r.endpoints.toLocaleString('en')} | ${label} | ${s.snapshot.p50} ms | ${s.translate.p50} ms | ${s.compile.p50} ms | ${s.total.p50} / ${s.total.p99} / ${s.total.max} ms | ${s.cpu.p50} ms |`,
      );
    }
  }
  lines.push('', '| Ingresses / endpoints | time to first table | heap after first table | RSS after first table |', '|---|---|---|---|');
  for (const { result: r } of results) {
    lines.push(`| ${r.ingresses.toLocaleString('en')} / ${r.endpoints.toLocaleString('en')} | ${r.timeToFirstTableMs} ms | ${r.afterFirstTable.heapUsedMiB} MiB | ${r.afterFirstTable.rssMiB} MiB |`);
  }
  return lines.join('\n');
}

if (process.env.REBUILD_COST_CHILD !== undefined) {
  const [size, changes, withBalancing] = process.env.REBUILD_COST_CHILD.split(',').map(Number);
  const result = await runSize(size, changes, withBalancing === 1);
  if (process.send) process.send(result);
  else console.log(JSON.stringify(result, null, 2));
} else {
  const sizes = arg('sizes', '1000,10000').split(',').map(Number);
  const changes = Number(arg('changes', '50'));
  const results: { size: number; result: Record<string, any> }[] = [];
  for (const size of sizes) {
    const result = await new Promise<Record<string, any>>((resolve, reject) => {
      const child = fork(import.meta.filename, [], {
        env: { ...process.env, REBUILD_COST_CHILD: `${size},${changes},${process.argv.includes('--balancing') ? 1 : 0}` },
        execArgv: ['--expose-gc', ...process.execArgv.filter((a) => a !== '--expose-gc')],
      });
      let got: Record<string, any> | null = null;
      child.on('message', (m) => (got = m as Record<string, any>));
      child.on('exit', (code) => (got !== null ? resolve(got) : reject(new Error(`size ${size}: child exited with ${code}`))));
    });
    results.push({ size, result });
    console.error(`size ${size}: done`);
  }
  const out = {
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '', node: process.version },
    results: results.map((r) => r.result),
  };
  console.log(JSON.stringify(out, null, 2));
  console.log(table(results));
  const json = arg('json', '');
  if (json !== '') writeFileSync(json, JSON.stringify(out, null, 2) + '\n');
}
