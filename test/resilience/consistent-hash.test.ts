// upstream-hash-by: the ring is stable (adding or removing one of N endpoints moves about 1/N of
// the keys, and only to/from that endpoint), spreads keys evenly, and skips ejected endpoints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompiledUpstream } from '../../src/compile/compiled-upstream.ts';
import { ConsistentHashBalancer } from '../../src/proxy/balancers/consistent-hash.ts';
import { PassiveHealth } from '../../src/proxy/passive-health.ts';

function ring(count: number, skip: number[] = []): ConsistentHashBalancer {
  const endpoints = [];
  for (let i = 0; i < count; i++) {
    if (!skip.includes(i)) endpoints.push({ address: `10.0.${i >> 8}.${i & 255}`, port: 8080, ready: true, serving: true, terminating: false });
  }
  const upstream = new CompiledUpstream({ key: 'ns/svc:80', namespace: 'ns', service: 'svc', servicePort: 80, endpoints }, 0);
  return new ConsistentHashBalancer(upstream, new PassiveHealth(), 3, '$request_uri');
}

const KEYS = Array.from({ length: 20_000 }, (_, i) => `/item/${i}?u=${i * 7919}`);

function assignment(b: ConsistentHashBalancer): string[] {
  return KEYS.map((k) => b.endpointFor(k)!.address);
}

test('adding an endpoint to 10 moves about 1/11 of the keys, all of them to the new endpoint', () => {
  const before = assignment(ring(10));
  const after = assignment(ring(11));
  let moved = 0;
  for (let i = 0; i < KEYS.length; i++) {
    if (before[i] !== after[i]) {
      moved++;
      assert.equal(after[i], '10.0.0.10', 'a moved key goes to the new endpoint');
    }
  }
  const share = moved / KEYS.length;
  assert.ok(share > 0.06 && share < 0.13, `moved ${(share * 100).toFixed(1)}% (ideal 9.1%)`);
});

test('removing one endpoint of 10 moves only its keys', () => {
  const before = assignment(ring(10));
  const after = assignment(ring(10, [3]));
  let moved = 0;
  for (let i = 0; i < KEYS.length; i++) {
    if (before[i] !== after[i]) {
      moved++;
      assert.equal(before[i], '10.0.0.3', 'only keys of the removed endpoint move');
    }
  }
  const share = moved / KEYS.length;
  assert.ok(share > 0.06 && share < 0.14, `moved ${(share * 100).toFixed(1)}% (ideal 10%)`);
});

test('keys spread evenly: every one of 10 endpoints gets 7%..13%', () => {
  const counts = new Map<string, number>();
  for (const a of assignment(ring(10))) counts.set(a, (counts.get(a) ?? 0) + 1);
  assert.equal(counts.size, 10);
  for (const [address, n] of counts) {
    const share = n / KEYS.length;
    assert.ok(share > 0.07 && share < 0.13, `${address}: ${(share * 100).toFixed(1)}%`);
  }
});

test('an ejected endpoint is skipped: its keys go to the next point on the ring, the others stay', () => {
  const b = ring(5);
  const fake = (url: string) => ({ req: { url, rawHeaders: [] } }) as never;
  const before = KEYS.slice(0, 2000).map((k) => b.pick(fake(k), null)!.address);
  b.candidates[2].health = { ejectedUntil: Number.MAX_SAFE_INTEGER } as never;
  const after = KEYS.slice(0, 2000).map((k) => b.pick(fake(k), null)!.address);
  for (let i = 0; i < before.length; i++) {
    if (before[i] === '10.0.0.2') assert.notEqual(after[i], '10.0.0.2');
    else assert.equal(after[i], before[i]);
  }
});
