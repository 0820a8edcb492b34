// Passive health and retries over real sockets: refused endpoints are retried on a DIFFERENT
// endpoint and ejected after --upstream-max-fails; consecutive 5xx eject; back-off then retry
// (doubling); the last usable endpoint is never ejected; bodies and non-idempotent resets are not
// retried; tries bound the attempts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { routeConfig, type UpstreamSpec } from '../compile/config-builder.ts';
import { echo, send, startUpstream, type Upstream } from '../proxy/support.ts';
import { ManualClock, refusedPort, startBalancedProxy } from './support.ts';

const KEY = 'shop/web:80';
const HOST = 'shop.test';

function config(ports: readonly number[], extra: Partial<UpstreamSpec['endpoints'][number]>[] = []) {
  return routeConfig({
    hosts: [{ host: HOST, routes: [{ path: '/', upstream: KEY }] }],
    upstreams: [{ key: KEY, endpoints: ports.map((port, i) => ({ address: '127.0.0.1', port, ...extra[i] })) }],
  });
}

async function statuses(port: number, n: number, opts: { method?: string; body?: string; path?: string } = {}): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await send(port, { host: HOST, path: opts.path ?? '/x', method: opts.method, body: opts.body, headers: opts.body ? { 'content-type': 'text/plain' } : {} });
    const key = r.status === 200 ? String(r.headers['x-upstream']) : String(r.status);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

test('a refused endpoint: GETs are retried on another endpoint, then it is ejected', async (t) => {
  const dead = await refusedPort();
  const b = await startUpstream('b');
  const h = await startBalancedProxy(config([dead, b.port]), { maxFails: 3 });
  t.after(async () => {
    await h.close();
    await b.close();
  });
  // Every request succeeds: the ones sent to the dead endpoint are retried on b.
  assert.deepEqual(await statuses(h.port, 12), { b: 12 });
  assert.equal(h.balancing.health.ejectionCount, 1, 'ejected after 3 consecutive failures');
  // Counted per upstream for /metrics (switchyard_upstream_ejections_total / _retries_total).
  const counts = h.balancing.health.counts.get(KEY)!;
  assert.equal(counts.ejections, 1);
  assert.ok(counts.retries >= 3, `retries counted: ${counts.retries}`);
  const health = h.routeRef.current.upstreams.get(KEY)!.endpoints[0].health!;
  assert.ok(health.ejectedUntil > 0);
  // b saw exactly the 12 requests (each once).
  assert.equal(b.seen.length, 12);
});

test('requests with a body are not retried (502 from the refused endpoint); tries=1 disables retries', async (t) => {
  const dead = await refusedPort();
  const b = await startUpstream('b');
  const h = await startBalancedProxy(config([dead, b.port]), { maxFails: 0 });
  const h1 = await startBalancedProxy(config([dead, b.port]), { maxFails: 0, tries: 1 });
  t.after(async () => {
    await h.close();
    await h1.close();
    await b.close();
  });
  assert.deepEqual(await statuses(h.port, 4, { method: 'POST', body: 'hello' }), { 502: 2, b: 2 });
  // Without a body a POST to a refused endpoint is retried: it never reached the upstream.
  assert.deepEqual(await statuses(h.port, 4, { method: 'POST' }), { b: 4 });
  assert.deepEqual(await statuses(h1.port, 4), { 502: 2, b: 2 });
  assert.equal(h.balancing.health.ejectionCount, 0, '--upstream-max-fails 0: no ejection');
});

test('retries go to a different endpoint each time and stop after tries attempts', async (t) => {
  const [d1, d2, d3] = [await refusedPort(), await refusedPort(), await refusedPort()];
  const c = await startUpstream('c');
  // Three dead endpoints and one live one: a request starting on a dead one moves on, never to the
  // same endpoint twice.
  const h = await startBalancedProxy(config([d1, d2, d3, c.port]), { maxFails: 0, tries: 4 });
  const h3 = await startBalancedProxy(config([d1, d2, d3, c.port]), { maxFails: 0, tries: 3 });
  t.after(async () => {
    await h.close();
    await h3.close();
    await c.close();
  });
  // tries 4: all four endpoints can be reached from any start -> every request succeeds.
  assert.deepEqual(await statuses(h.port, 8), { c: 8 });
  // tries 3: a request starting on d1 tries d1, d2, d3 and fails (502); retries move the shared
  // cursor too, so the next one starts on c: 502, c, 502, c.
  assert.deepEqual(await statuses(h3.port, 4), { 502: 2, c: 2 });
});

test('consecutive 5xx eject an endpoint; after the back-off it gets traffic again; a new failure doubles the back-off', async (t) => {
  const clock = new ManualClock();
  let failing = true;
  const bad = await startUpstream('bad', (req: IncomingMessage, res: ServerResponse, name: string) => {
    if (!failing) return echo(req, res, name);
    req.resume();
    res.writeHead(500, { 'x-upstream': name });
    res.end('boom');
  });
  const good = await startUpstream('good');
  const h = await startBalancedProxy(config([bad.port, good.port]), { maxFails: 3, failTimeoutMs: 10_000, now: clock.now });
  t.after(async () => {
    await h.close();
    await Promise.all([bad.close(), good.close()]);
  });
  // 5xx are passed through (not retried), until the third consecutive one ejects "bad".
  assert.deepEqual(await statuses(h.port, 6), { 500: 3, good: 3 });
  assert.equal(h.balancing.health.ejectionCount, 1);
  assert.deepEqual(await statuses(h.port, 6), { good: 6 });

  // The back-off survives a table swap (state lives outside the table).
  h.swap(config([bad.port, good.port]));
  assert.deepEqual(await statuses(h.port, 4), { good: 4 });

  // Back-off over: "bad" is tried again; one more 500 ejects it at once, for twice as long.
  clock.advance(10_001);
  assert.deepEqual(await statuses(h.port, 2), { 500: 1, good: 1 });
  assert.equal(h.balancing.health.ejectionCount, 2);
  clock.advance(10_001);
  assert.deepEqual(await statuses(h.port, 4), { good: 4 }, 'still ejected: 20 s this time');
  clock.advance(10_000);
  // Recovered: it answers 200 again and takes its share.
  failing = false;
  assert.deepEqual(await statuses(h.port, 4), { bad: 2, good: 2 });
  const health = h.routeRef.current.upstreams.get(KEY)!.endpoints[0].health!;
  assert.equal(health.ejections, 0, 'a success after the ejection resets the back-off');
});

test('the last usable endpoint is never ejected', async (t) => {
  const bad = await startUpstream('bad', (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    res.writeHead(503);
    res.end('down');
  });
  const h = await startBalancedProxy(config([bad.port]), { maxFails: 2 });
  t.after(async () => {
    await h.close();
    await bad.close();
  });
  assert.deepEqual(await statuses(h.port, 6), { 503: 6 });
  assert.equal(h.balancing.health.ejectionCount, 0);
  assert.equal(bad.seen.length, 6, 'every request still reached it');
});

test('all endpoints failing: ejection stops at the last one and traffic still flows to all', async (t) => {
  const failing: Upstream[] = [];
  for (const name of ['x', 'y']) {
    failing.push(
      await startUpstream(name, (req: IncomingMessage, res: ServerResponse, n: string) => {
        req.resume();
        res.writeHead(500, { 'x-upstream': n });
        res.end();
      }),
    );
  }
  const h = await startBalancedProxy(config(failing.map((u) => u.port)), { maxFails: 1 });
  t.after(async () => {
    await h.close();
    await Promise.all(failing.map((u) => u.close()));
  });
  await statuses(h.port, 10);
  assert.equal(h.balancing.health.ejectionCount, 1, 'one ejected, the other kept as the last usable');
});

test('a connection reset before the response: GET retried elsewhere, POST answered 502', async (t) => {
  const reset = await startUpstream('reset', (req: IncomingMessage) => {
    req.socket.destroy();
  });
  const b = await startUpstream('b');
  const h = await startBalancedProxy(config([reset.port, b.port]), { maxFails: 0 });
  t.after(async () => {
    await h.close();
    await Promise.all([reset.close(), b.close()]);
  });
  assert.deepEqual(await statuses(h.port, 4), { b: 4 });
  assert.deepEqual(await statuses(h.port, 4, { method: 'POST' }), { 502: 2, b: 2 });
});

test('at most half of the endpoints are ejected when they all fail (no pile-up on one survivor)', async (t) => {
  const ups: Upstream[] = [];
  for (const name of ['p', 'q', 'r', 's']) {
    ups.push(
      await startUpstream(name, (req: IncomingMessage, res: ServerResponse, n: string) => {
        req.resume();
        res.writeHead(500, { 'x-upstream': n });
        res.end();
      }),
    );
  }
  const h = await startBalancedProxy(config(ups.map((u) => u.port)), { maxFails: 1 });
  t.after(async () => {
    await h.close();
    await Promise.all(ups.map((u) => u.close()));
  });
  await statuses(h.port, 20);
  assert.equal(h.balancing.health.ejectionCount, 2, '2 of 4 ejected, 2 keep sharing the traffic');
  const before = ups.map((u) => u.seen.length);
  await statuses(h.port, 8);
  const grew = ups.filter((u, i) => u.seen.length > before[i]).map((u) => u.name);
  assert.equal(grew.length, 2, `the two endpoints not ejected share the traffic: ${grew.join(', ')}`);
});
