// limit-rps / limit-rpm / limit-connections counters (src/proxy/rate-limit.ts) against nginx's
// limit_req (nodelay) and limit_conn arithmetic, with an injected clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RateLimit } from '../../src/model/route-config.ts';
import { Admission, MAX_CLIENTS_PER_ZONE, RateLimitZone, onFirstRateLimitZone, rateLimitZone } from '../../src/proxy/rate-limit.ts';

function limits(fields: Partial<RateLimit>): RateLimit {
  const rps = fields.rps ?? 0;
  const rpm = fields.rpm ?? 0;
  return { zone: 'ns/ing', rps, rpsBurst: fields.rpsBurst ?? rps * 5, rpm, rpmBurst: fields.rpmBurst ?? rpm * 5, connections: fields.connections ?? 0, allowRanges: fields.allowRanges ?? [] };
}

function admitted(zone: RateLimitZone, address: string, now: number, n: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (zone.admit(address, now) === Admission.OK) ok++;
  return ok;
}

test('limit-rps 1 with the default burst (x5): 6 of 10 simultaneous requests pass, as with ingress-nginx', () => {
  const zone = new RateLimitZone(limits({ rps: 1 }));
  assert.equal(admitted(zone, '10.0.0.1', 1000, 10), 6);
  // One more per second after that; a refused request does not fill the bucket.
  assert.equal(admitted(zone, '10.0.0.1', 1999, 1), 0);
  assert.equal(admitted(zone, '10.0.0.1', 2000, 2), 1);
  // Each client has its own bucket.
  assert.equal(admitted(zone, '10.0.0.2', 2000, 10), 6);
});

test('the bucket drains at the rate: after a full burst, burst x 1000 / rps ms bring it back', () => {
  const zone = new RateLimitZone(limits({ rps: 10, rpsBurst: 20 }));
  assert.equal(admitted(zone, 'a', 0, 30), 21);
  assert.equal(admitted(zone, 'a', 1000, 30), 10);
  assert.equal(admitted(zone, 'a', 4000, 30), 21, '3 s at 10 r/s drain 30 >= the 21 queued');
});

test('limit-rpm is per minute; with limit-rps both must pass', () => {
  const perMinute = new RateLimitZone(limits({ rpm: 60, rpmBurst: 0 }));
  assert.equal(admitted(perMinute, 'a', 0, 5), 1);
  assert.equal(admitted(perMinute, 'a', 999, 1), 0);
  assert.equal(admitted(perMinute, 'a', 1000, 1), 1);
  const both = new RateLimitZone(limits({ rps: 100, rpsBurst: 100, rpm: 2, rpmBurst: 1 }));
  assert.equal(admitted(both, 'a', 0, 10), 2, 'the per-minute burst decides here');
});

test('limit-connections counts requests in progress until released', () => {
  const zone = new RateLimitZone(limits({ connections: 2 }));
  assert.ok(zone.countsInFlight);
  assert.equal(zone.admit('a', 0), Admission.OK);
  assert.equal(zone.admit('a', 0), Admission.OK);
  assert.equal(zone.admit('a', 0), Admission.CONNECTIONS);
  assert.equal(zone.admit('b', 0), Admission.OK, 'per client');
  zone.release('a');
  assert.equal(zone.admit('a', 0), Admission.OK);
  assert.equal(new RateLimitZone(limits({ rps: 1 })).countsInFlight, false);
});

test('limit-allowlist exempts its ranges (IPv4 and IPv6)', () => {
  const zone = new RateLimitZone(limits({ rps: 1, rpsBurst: 0, allowRanges: ['10.0.0.0/8', '2001:db8::/32'] }));
  assert.equal(admitted(zone, '10.1.2.3', 0, 50), 50);
  assert.equal(admitted(zone, '2001:db8::7', 0, 50), 50);
  assert.equal(admitted(zone, '192.168.0.1', 0, 50), 1);
  assert.equal(zone.size, 1, 'exempt clients leave no state');
});

test('idle clients are swept; a full zone refuses new clients only when nothing can be swept', () => {
  const zone = new RateLimitZone(limits({ rps: 1, rpsBurst: 0 }));
  for (let i = 0; i < MAX_CLIENTS_PER_ZONE; i++) zone.admit(`c${i}`, 0);
  assert.equal(zone.size, MAX_CLIENTS_PER_ZONE);
  assert.equal(zone.admit('new', 500), Admission.ZONE_FULL, 'every bucket is still draining');
  assert.equal(zone.admit('new', 1000), Admission.OK, 'drained buckets make room');
  assert.equal(zone.size, 1);
  zone.sweep(5000);
  assert.equal(zone.size, 0);
});

test('the same limits give the same zone (counters survive a table swap); other limits a new one', () => {
  const a = rateLimitZone(limits({ rps: 3 }));
  assert.equal(rateLimitZone(limits({ rps: 3 })), a);
  assert.notEqual(rateLimitZone(limits({ rps: 4 })), a);
  assert.notEqual(rateLimitZone({ ...limits({ rps: 3 }), zone: 'ns/other' }), a);
});

test('the first zone a process creates is announced once (main.ts warns with --workers)', () => {
  let calls = 0;
  onFirstRateLimitZone(() => calls++);
  rateLimitZone({ ...limits({ rps: 7 }), zone: 'ns/first' });
  rateLimitZone({ ...limits({ rps: 8 }), zone: 'ns/second' });
  assert.equal(calls, 1);
});
