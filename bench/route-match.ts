// Per-request cost of the route match (RouteTable.find, the proxy's path) on a host with spec paths
// against the same host once one Ingress makes it a regex host (use-regex / rewrite-target:
// every path a case-insensitive pattern, tried in order), and of a capture rewrite. In-process, on
// this machine; not part of `npm run bench` (no load generator needed):
//   ./node_modules/.bin/node bench/route-match.ts [--iterations N] [--rounds R]
// Prints one line per case: median ns per call over R rounds of N calls.
import { parseArgs } from 'node:util';
import { compile } from '../src/compile/compile.ts';
import type { RouteTable } from '../src/compile/route-table.ts';
import type { Ingress, KubeObject, Service } from '../src/model/kube.ts';
import { CONTROLLER_NAME } from '../src/model/snapshot.ts';
import { translate } from '../src/translate/translate.ts';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '2000000' }, rounds: { type: 'string', default: '7' } } });
const N = Number(values.iterations);
const R = Number(values.rounds);

// Ten paths, as a mid-sized application host has them.
const PATHS = ['/', '/api', '/api/v1', '/api/v2', '/static', '/images', '/login', '/logout', '/account/settings', '/healthz'];

function ingress(name: string, host: string, paths: readonly string[], annotations: Record<string, string> = {}): Ingress {
  return {
    kind: 'Ingress',
    metadata: { name, namespace: 'bench', creationTimestamp: '2024-01-01T00:00:00Z', annotations },
    spec: {
      ingressClassName: 'switchyard',
      rules: [{ host, http: { paths: paths.map((path) => ({ path, pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } })) } }],
    },
  };
}

const web: Service = { kind: 'Service', metadata: { name: 'web', namespace: 'bench' }, spec: { ports: [{ port: 80 }] } };
const objects: KubeObject[] = [
  web,
  ingress('plain', 'plain.example.com', PATHS),
  ingress('mixed', 'regex.example.com', PATHS),
  ingress('rewrite', 'regex.example.com', ['/svc(/|$)(.*)'], { 'nginx.ingress.kubernetes.io/rewrite-target': '/$2' }),
];
const { config } = translate(
  { ingresses: objects.filter((o): o is Ingress => o.kind === 'Ingress'), ingressClasses: [], services: [web], endpointSlices: [], secrets: [] },
  { ingressClass: 'switchyard', controllerName: CONTROLLER_NAME, watchIngressWithoutClass: false, defaultBackendService: null },
);
const table: RouteTable = compile(config, {});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

let sink = 0;
function measure(name: string, run: () => unknown): void {
  for (let i = 0; i < 200_000; i++) if (run() !== undefined) sink++; // warm up
  const rounds: number[] = [];
  for (let r = 0; r < R; r++) {
    const t = performance.now();
    for (let i = 0; i < N; i++) if (run() !== undefined) sink++;
    rounds.push(((performance.now() - t) * 1e6) / N);
  }
  console.log(`${name.padEnd(58)} ${median(rounds).toFixed(0).padStart(5)} ns/call`);
}

for (const [label, host] of [['spec paths', 'plain.example.com'], ['regex host', 'regex.example.com']] as const) {
  measure(`${label}: /account/settings/x (a long path, early match)`, () => table.find(host, '/account/settings/x'));
  measure(`${label}: /api/v2/items (mid-list)`, () => table.find(host, '/api/v2/items'));
  measure(`${label}: /cart/items/42 (falls through to "/")`, () => table.find(host, '/cart/items/42'));
}
const rewriteRoute = table.find('regex.example.com', '/svc/a/b');
if (rewriteRoute?.rewrite == null) throw new Error('the rewrite route did not match');
const rewrite = rewriteRoute.rewrite;
measure('rewrite "/svc(/|$)(.*)" -> "/$2" of /svc/a/b?q=1', () => rewrite.apply('/svc/a/b', '/svc/a/b?q=1'));
if (sink < 0) console.log(sink);
