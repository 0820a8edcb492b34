// Per-request cost of the canary decision (src/compile/canary-rule.ts decideRaw, the proxy's
// path), in-process, on this machine. Not part of `npm run bench` (no load generator needed):
//   ./node_modules/.bin/node bench/canary-decision.ts [--iterations N] [--rounds R]
// Prints one line per case: median ns per decision over R rounds of N decisions. Routes without
// canaries do no canary work at all (CompiledRoute.canaryRule is null), so they are not listed.
import { parseArgs } from 'node:util';
import { compileCanaryRule, type CanaryRule } from '../src/compile/canary-rule.ts';
import type { CanaryBackend, CanaryHeaderRule } from '../src/model/route-config.ts';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '2000000' }, rounds: { type: 'string', default: '7' } } });
const N = Number(values.iterations);
const R = Number(values.rounds);

function canary(name: string, header: CanaryHeaderRule | null, cookie: string | null, weight: number): CanaryBackend {
  return {
    source: { kind: 'Ingress', namespace: 'bench', name },
    name: `ingress/bench/${name}/rule/0/path/0`,
    backend: { service: { namespace: 'bench', name, port: 80 }, upstream: `bench/${name}:80` },
    header,
    cookie,
    weight,
    weightTotal: 100,
  };
}

// A typical browser-ish request: 8 headers, a few cookies.
const RAW = [
  'Host', 'shop.example.com', 'User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0', 'Accept', 'text/html,*/*;q=0.8',
  'Accept-Language', 'en-US,en;q=0.5', 'Accept-Encoding', 'gzip, deflate, br', 'Connection', 'keep-alive',
  'Cookie', 'session=0123456789abcdef; theme=dark; consent=yes', 'X-Request-Id', '5f2b7c1e-9a3d-4e8f-b6a1-2c4d6e8f0a1b',
];
const withHeader = [...RAW, 'X-Canary', 'always'];

const CASES: { name: string; rule: CanaryRule<string>; raw: readonly string[] }[] = [];
function add(name: string, canaries: CanaryBackend[], raw: readonly string[]): void {
  const rule = compileCanaryRule(canaries, { resolveUpstream: (b) => b.upstream });
  if (rule === null) throw new Error(name);
  CASES.push({ name, rule, raw });
}
add('weight only (10%)', [canary('a', null, null, 10)], RAW);
add('header always/never, header absent, weight 10%', [canary('a', { name: 'x-canary', match: 'always-never' }, null, 10)], RAW);
add('header always/never, header present', [canary('a', { name: 'x-canary', match: 'always-never' }, null, 10)], withHeader);
add('header pattern (no match), weight 10%', [canary('a', { name: 'user-agent', match: 'pattern', pattern: 'Mobile|Android', valid: true }, null, 10)], RAW);
add('cookie (absent) + header + weight', [canary('a', { name: 'x-canary', match: 'always-never' }, 'canary', 10)], RAW);
add('3 canaries: header, cookie, weight each', [
  canary('a', { name: 'x-a', match: 'always-never' }, 'ca', 10),
  canary('b', { name: 'x-b', match: 'value', value: 'v2' }, 'cb', 10),
  canary('c', { name: 'x-c', match: 'always-never' }, 'cc', 10),
], RAW);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

let sink = 0;
for (const c of CASES) {
  for (let i = 0; i < 100_000; i++) if (c.rule.decideRaw(c.raw) !== null) sink++; // warm up
  const rounds: number[] = [];
  for (let r = 0; r < R; r++) {
    const t = performance.now();
    for (let i = 0; i < N; i++) if (c.rule.decideRaw(c.raw) !== null) sink++;
    rounds.push(((performance.now() - t) * 1e6) / N);
  }
  console.log(`${c.name.padEnd(48)} ${median(rounds).toFixed(0).padStart(5)} ns/decision`);
}
if (sink < 0) console.log(sink);
