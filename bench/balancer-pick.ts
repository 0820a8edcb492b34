// Per-request cost of choosing an endpoint (src/proxy/balancers/), in-process, on this machine.
// Not part of `npm run bench` (no load generator needed):
//   ./node_modules/.bin/node bench/balancer-pick.ts [--iterations N] [--rounds R] [--endpoints E]
// Prints one line per policy: median ns per pick+done over R rounds of N requests, against the
// plain CompiledUpstream.pick() (what the proxy does without balancing).
import { parseArgs } from 'node:util';
import { CompiledUpstream } from '../src/compile/compiled-upstream.ts';
import type { RouteBalance } from '../src/model/route-config.ts';
import { Balancing } from '../src/proxy/balancers/balancing.ts';
import type { Exchange } from '../src/proxy/exchange.ts';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '2000000' }, rounds: { type: 'string', default: '7' }, endpoints: { type: 'string', default: '20' } } });
const N = Number(values.iterations);
const R = Number(values.rounds);
const E = Number(values.endpoints);

const endpoints = Array.from({ length: E }, (_, i) => ({ address: `10.0.${i >> 8}.${i & 255}`, port: 8080, ready: true, serving: true, terminating: false }));
const RAW = ['Host', 'shop.example.com', 'User-Agent', 'Mozilla/5.0', 'Accept', '*/*', 'X-User', 'user-4711', 'Cookie', 'theme=dark; INGRESSCOOKIE=none'];
// A fake exchange with what balancers read (stable shape).
const exchange = {
  req: { url: '/items/42?x=1', rawHeaders: RAW, socket: { remoteAddress: '192.0.2.7' } },
  endpoint: null as unknown,
  errorCode: null,
  status: 200,
  upstreamStart: 1,
  endTime: 2,
  setCookie: null as string | null,
  host: 'shop.example.com',
  matchPath: '/items/42',
  method: 'GET',
} as unknown as Exchange & { endpoint: unknown };

const affinity = { cookieName: 'INGRESSCOOKIE', maxAgeSeconds: null, path: null, canaryBehavior: 'sticky' as const };
const CASES: [string, RouteBalance | null][] = [
  ['round_robin', null],
  ['ewma', { policy: 'ewma' }],
  ['hash $http_x_user', { policy: 'round_robin', hashBy: '$http_x_user' }],
  ['hash $request_uri', { policy: 'round_robin', hashBy: '$request_uri' }],
  ['cookie (no cookie yet)', { policy: 'round_robin', affinity }],
];

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[s.length >> 1];
}

const plain = new CompiledUpstream({ key: 'b/s:80', namespace: 'b', service: 's', servicePort: 80, endpoints }, 0);
{
  const rounds: number[] = [];
  for (let r = 0; r < R; r++) {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) plain.pick();
    rounds.push(((performance.now() - t0) * 1e6) / N);
  }
  console.log(`${'plain pick() (no balancing)'.padEnd(28)} ${median(rounds).toFixed(1)} ns`);
}
for (const [name, balance] of CASES) {
  const upstream = new CompiledUpstream({ key: 'b/s:80', namespace: 'b', service: 's', servicePort: 80, endpoints }, 0);
  const balancer = new Balancing({}).build(upstream, 1, balance === null ? null : { balance, path: '/', setsCookie: true });
  const rounds: number[] = [];
  for (let r = 0; r < R; r++) {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      exchange.setCookie = null;
      exchange.endpoint = balancer.pick(exchange, null)!;
      balancer.done(exchange);
    }
    rounds.push(((performance.now() - t0) * 1e6) / N);
  }
  console.log(`${name.padEnd(28)} ${median(rounds).toFixed(1)} ns`);
}
