// Kubernetes mode at scale (not part of `npm test`):
//   node --expose-gc bench/kube-scale.ts [--ingresses 10000] [--endpoints-per-service 5] [--changes 10] [--node-args '...']
//     [--heap-snapshot FILE]   (the controller's heap after sync; read it with bench/heap-breakdown.ts --snapshot FILE)
// The in-repo test API server (this process) holds N Ingresses, N Services and N EndpointSlices
// with 5 endpoints each (10,000 / 50,000 by default). The controller runs as a child process
// (`--source kubernetes`, real informers, store, controller, proxy) so its memory is its own.
// Reports: time to first ready (process start -> /readyz-equivalent; and informers synced -> first
// table), heap and RSS after sync (after a full GC), and the time from one Ingress change on the
// API server to the proxy serving it (a real HTTP request answered by the new backend), and the
// same for an EndpointSlice change (the endpoint moves to another upstream).
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer, request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { KubeApiServer, kubeconfigFor } from '../test/support/kube-api-server.ts';
import { SHIPPED_NODE_FLAGS } from '../src/node-flags.ts';

const MiB = 1048576;

/**
 * A second sample of the idle controller, later than V8's memory reducer could first act (8 s after
 * a full GC, MemoryReducer::kLongDelayMs): whether the young generation the startup burst grew is
 * given back when idle (measured: it is not, bench/PROFILE.md 6e).
 */
const IDLE_SAMPLE_MS = 15_000;

if (process.argv[2] === 'child') {
  await child(process.argv[3], process.argv[4]);
} else {
  await parent();
}

// ---- the controller (child process) --------------------------------------------------------

interface ReadyMessage {
  readonly type: 'ready';
  /** ms since this process started (performance.timeOrigin). */
  readonly syncedAtMs: number;
  readonly readyAtMs: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly rss: number;
  /** Off-heap memory V8 knows of (Buffers, ArrayBuffers). */
  readonly external: number;
  /** Resident anonymous / file-backed memory (/proc/self/status RssAnon, RssFile). */
  readonly rssAnon: number;
  readonly rssFile: number;
  /** glibc's main malloc arena (the [heap] mapping's Rss): native allocations, and what fragmentation keeps. */
  readonly mallocHeap: number;
  /** Resident size of V8's spaces after the GC (physical_space_size). */
  readonly spaces: Readonly<Record<string, number>>;
  /** The young generation's resident size before the GC. */
  readonly newSpace: number;
  readonly httpPort: number;
  readonly storeCounts: unknown;
  /** CPU time (user + system) of the controller process until ready: less sensitive to a busy machine than wall time. */
  readonly cpuUntilReadyMs: number;
  /** Sampled again IDLE_SAMPLE_MS after ready, with no forced GC: the idle controller. */
  readonly idle: { readonly rss: number; readonly heapTotal: number; readonly newSpace: number; readonly mallocHeap: number };
}

async function child(kubeconfig: string, heapSnapshot: string | undefined): Promise<void> {
  const { parseConfig } = await import('../src/config.ts');
  const { startSwitchyard } = await import('../src/main.ts');
  const { createLogger } = await import('../src/observability/logger.ts');
  const outcome = parseConfig([
    '--source', 'kubernetes', '--kubeconfig', kubeconfig, '--http-port', '0', '--https-port', '0', '--admin-port', '0',
    '--bind-address', '127.0.0.1', '--admin-bind-address', '127.0.0.1', '--update-status', 'false', '--log-level', 'warn',
  ], {});
  if (outcome.kind !== 'run') throw new Error('bad config');
  const app = await startSwitchyard(outcome.config, createLogger({ level: 'warn' }));
  await Promise.all(app.sources.map((s) => s.synced));
  const syncedAtMs = performance.now();
  await app.controller.whenReady();
  const readyAtMs = performance.now();
  const cpu = process.cpuUsage();
  // Settle 3 s like the scale scenario (bench/scenarios/scale.ts) before sampling, so the two
  // sources' figures compare: the sweeper finishes (the memory reducer has not run yet: IDLE_SAMPLE_MS).
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const { getHeapSpaceStatistics } = await import('node:v8');
  const newSpace = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.physical_space_size ?? 0;
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const mem = process.memoryUsage();
  const status = readFileSync('/proc/self/status', 'utf8');
  const mallocHeapNow = (): number =>
    Number(/\[heap\]\n(?:.*\n)*?Rss:\s+(\d+) kB/.exec(readFileSync('/proc/self/smaps', 'utf8'))?.[1] ?? 0) * 1024;
  const mallocHeap = mallocHeapNow();
  const spaces: Record<string, number> = {};
  for (const s of getHeapSpaceStatistics()) if (s.physical_space_size > 0) spaces[s.space_name] = s.physical_space_size;
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, IDLE_SAMPLE_MS - (performance.now() - readyAtMs))));
  const idleMem = process.memoryUsage();
  const idle = {
    rss: idleMem.rss, heapTotal: idleMem.heapTotal, mallocHeap: mallocHeapNow(),
    newSpace: getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.physical_space_size ?? 0,
  };
  const message: ReadyMessage = {
    type: 'ready', syncedAtMs, readyAtMs, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, rss: mem.rss,
    external: mem.external, rssAnon: kib('RssAnon'), rssFile: kib('RssFile'), mallocHeap, spaces, newSpace,
    httpPort: app.httpAddress.port, storeCounts: app.store.counts(), cpuUntilReadyMs: Math.round((cpu.user + cpu.system) / 1000), idle,
  };
  if (heapSnapshot !== undefined) (await import('node:v8')).writeHeapSnapshot(heapSnapshot);
  process.send!(message);
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stop') void app.close(0).then(() => process.exit(0));
  });
}

// ---- the API server and the measurements (parent) -----------------------------------------

async function parent(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ingresses: { type: 'string', default: '10000' },
      'endpoints-per-service': { type: 'string', default: '5' },
      changes: { type: 'string', default: '10' },
      // Extra node flags for the controller, after the shipped ones (a later V8 flag wins).
      'node-args': { type: 'string', default: '' },
      'heap-snapshot': { type: 'string' },
    },
  });
  const count = Number(values.ingresses);
  const perService = Number(values['endpoints-per-service']);
  const changes = Number(values.changes);

  const upstream = createServer((req, res) => {
    req.resume();
    res.end('changed');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamPort = (upstream.address() as { port: number }).port;
  const moved = createServer((req, res) => {
    req.resume();
    res.end('moved');
  });
  await new Promise<void>((r) => moved.listen(0, '127.0.0.1', r));
  const movedPort = (moved.address() as { port: number }).port;

  const api = new KubeApiServer({ historyLimit: 10_000 });
  await api.start();
  const t0 = performance.now();
  api.load(objects(count, perService));
  api.load([
    { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'bench', name: 'target' }, spec: { ports: [{ name: 'http', port: 80, targetPort: upstreamPort }] } },
    {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
      metadata: { namespace: 'bench', name: 'target-a', labels: { 'kubernetes.io/service-name': 'target' } },
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }], ports: [{ name: 'http', port: upstreamPort }],
    },
  ]);
  console.log(`API server: ${count} Ingresses, ${count} Services, ${count} EndpointSlices x ${perService} = ${count * perService} endpoints (loaded in ${Math.round(performance.now() - t0)} ms)`);

  const dir = mkdtempSync(join(tmpdir(), 'swy-kube-scale-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigFor(api));
  const spawnedAt = performance.now();
  let firstListAt = 0;
  const offList = api.onRequest((e) => {
    if (e.verb === 'list' && firstListAt === 0) firstListAt = performance.now();
  });
  const proc: ChildProcess = fork(fileURLToPath(import.meta.url), ['child', kubeconfig, ...(values['heap-snapshot'] !== undefined ? [values['heap-snapshot']] : [])], {
    // The shipped V8 flags (what bin/switchyard.js re-executes itself with), so memory is as shipped.
    execArgv: ['--expose-gc', ...SHIPPED_NODE_FLAGS, ...values['node-args'].split(/\s+/).filter(Boolean)], stdio: ['ignore', 'ignore', 'inherit', 'ipc'], // stdout: access log
  });
  try {
    const ready = await new Promise<ReadyMessage>((resolve, reject) => {
      proc.once('message', (m) => resolve(m as ReadyMessage));
      proc.once('exit', (code) => reject(new Error(`controller exited with ${code}`)));
    });
    // The message comes after the idle sample (IDLE_SAMPLE_MS): ready is the child's own clock
    // (from its process start), not when the message arrived.
    const readyWallMs = ready.readyAtMs;
    offList();
    process.stderr.write(`controller ready ${Math.round(readyWallMs)} ms after its start; measuring changes\n`);
    const lists = api.requestLog.filter((e) => e.verb === 'list').length;

    // One Ingress change -> served: create/modify an Ingress whose host answers only once the
    // new table is live; measure until a request through the proxy gets the new backend.
    const latencies: number[] = [];
    for (let i = 0; i < changes; i++) {
      const host = `change-${i}.example.com`;
      const start = performance.now();
      api.put({
        apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { namespace: 'bench', name: 'changing' },
        spec: { ingressClassName: 'switchyard', rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'target', port: { number: 80 } } } }] } }] },
      });
      for (;;) {
        const r = await get(ready.httpPort, host);
        if (r.status === 200 && r.body === 'changed') break;
        if (performance.now() - start > 30_000) throw new Error('change not served within 30s');
      }
      latencies.push(performance.now() - start);
    }
    latencies.sort((a, b) => a - b);

    // One EndpointSlice change -> served: the target Service's only endpoint moves to another
    // upstream (what a rollout does), and back; measured until a request reaches the new one.
    const endpointLatencies: number[] = [];
    const host = `change-${changes - 1}.example.com`;
    for (let i = 0; i < changes; i++) {
      const [port, answer] = i % 2 === 0 ? [movedPort, 'moved'] : [upstreamPort, 'changed'];
      const start = performance.now();
      api.put({
        apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
        metadata: { namespace: 'bench', name: 'target-a', labels: { 'kubernetes.io/service-name': 'target' } },
        endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }], ports: [{ name: 'http', port }],
      });
      for (;;) {
        const r = await get(ready.httpPort, host);
        if (r.status === 200 && r.body === answer) break;
        if (performance.now() - start > 30_000) throw new Error('endpoint change not served within 30s');
      }
      endpointLatencies.push(performance.now() - start);
    }
    endpointLatencies.sort((a, b) => a - b);

    const report = {
      ingresses: count,
      endpoints: count * perService,
      /** Controller process start -> first table published (ready), the child's clock. */
      firstReadyFromSpawnMs: Math.round(readyWallMs),
      /** Process start and module loading, until the first LIST reaches the API server. */
      firstListFromSpawnMs: Math.round(firstListAt - spawnedAt),
      /** First LIST sent -> every informer listed (API server JSON, client-node deserialize, normalize, store). */
      /** (child clock ~ parent clock from the fork; close enough at this scale) */
      listToSyncedMs: Math.round(ready.syncedAtMs - (firstListAt - spawnedAt)),
      syncedAfterProcessStartMs: Math.round(ready.syncedAtMs),
      firstTableAfterSyncMs: Math.round(ready.readyAtMs - ready.syncedAtMs),
      cpuUntilReadyMs: ready.cpuUntilReadyMs,
      heapUsedMiB: round1(ready.heapUsed / MiB),
      heapTotalMiB: round1(ready.heapTotal / MiB),
      rssMiB: round1(ready.rss / MiB),
      rssAnonMiB: round1(ready.rssAnon / MiB),
      rssFileMiB: round1(ready.rssFile / MiB),
      mallocHeapMiB: round1(ready.mallocHeap / MiB),
      v8SpacesResidentMiB: Object.fromEntries(Object.entries(ready.spaces).map(([name, bytes]) => [name.replace(/_space$/, ''), round1(bytes / MiB)])),
      externalMiB: round1(ready.external / MiB),
      youngGenerationBeforeGcMiB: round1(ready.newSpace / MiB),
      idleAfterReady: {
        afterMs: IDLE_SAMPLE_MS,
        rssMiB: round1(ready.idle.rss / MiB),
        heapTotalMiB: round1(ready.idle.heapTotal / MiB),
        youngGenerationMiB: round1(ready.idle.newSpace / MiB),
        mallocHeapMiB: round1(ready.idle.mallocHeap / MiB),
      },
      listRequests: lists,
      changeToServedMs: { median: round1(latencies[Math.floor(latencies.length / 2)]), max: round1(latencies[latencies.length - 1]), runs: latencies.length },
      endpointChangeToServedMs: {
        median: round1(endpointLatencies[Math.floor(endpointLatencies.length / 2)]), max: round1(endpointLatencies[endpointLatencies.length - 1]), runs: endpointLatencies.length,
      },
      store: ready.storeCounts,
    };
    console.log(JSON.stringify(report, null, 2));
  } finally {
    proc.send?.({ type: 'stop' });
    await new Promise((r) => proc.once('exit', r));
    await api.close();
    upstream.close();
    moved.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function* objects(count: number, perService: number): Generator<Record<string, any>> {
  yield { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'switchyard' }, spec: { controller: 'switchyard.dev/ingress-controller' } };
  for (let i = 0; i < count; i++) {
    const namespace = `ns-${i % 100}`;
    const name = `app-${i}`;
    yield {
      apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { namespace, name, annotations: { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '30' } },
      spec: { ingressClassName: 'switchyard', rules: [{ host: `${name}.${namespace}.example.com`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name, port: { number: 80 } } } }] } }] },
    };
    yield { apiVersion: 'v1', kind: 'Service', metadata: { namespace, name }, spec: { type: 'ClusterIP', clusterIP: ip(i, 0), ports: [{ name: 'http', port: 80, targetPort: 8080 }] } };
    yield {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
      metadata: { namespace, name: `${name}-abcde`, labels: { 'kubernetes.io/service-name': name } },
      endpoints: Array.from({ length: perService }, (_, j) => ({
        addresses: [ip(i, j + 1)], conditions: { ready: true, serving: true, terminating: false },
        nodeName: `node-${j}`, targetRef: { kind: 'Pod', namespace, name: `${name}-${j}` },
      })),
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    };
  }
}

function ip(i: number, j: number): string {
  const n = i * 8 + j;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

function get(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    // A request that hangs is a finding, not something to wait 10 minutes for.
    req.setTimeout(10_000, () => req.destroy(new Error(`request to ${host} got no answer in 10s`)));
    req.end();
  });
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
