// Endpoint drain over real sockets: an endpoint that turns terminating gets no new requests but its
// in-flight request completes; when every endpoint is terminating but still serving, they are used
// (as kube-proxy does); terminating and not serving -> 503; an endpoint removed from the table
// mid-request still completes that request (pools live outside the table).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { routeConfig, type UpstreamSpec } from '../compile/config-builder.ts';
import { send, startProxy, startUpstream, echo, type Upstream } from '../proxy/support.ts';

const KEY = 'shop/web:80';

function config(endpoints: UpstreamSpec['endpoints']) {
  return routeConfig({ hosts: [{ host: 'shop.test', routes: [{ path: '/', upstream: KEY }] }], upstreams: [{ key: KEY, endpoints }] });
}

/** An upstream whose /slow waits until released; everything else is echoed. */
async function slowUpstream(name: string): Promise<{ up: Upstream; arrived: Promise<void>; release: () => void }> {
  const arrived = Promise.withResolvers<void>();
  let pending: ServerResponse | null = null;
  const up = await startUpstream(name, (req: IncomingMessage, res: ServerResponse, n: string) => {
    if (req.url === '/slow') {
      req.resume();
      pending = res;
      res.writeHead(200, { 'x-upstream': n });
      arrived.resolve();
      return;
    }
    echo(req, res, n);
  });
  return { up, arrived: arrived.promise, release: () => pending?.end(`${name} slow done`) };
}

async function servedBy(port: number, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await send(port, { host: 'shop.test', path: '/x' });
    const key = r.status === 200 ? String(r.headers['x-upstream']) : String(r.status);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

test('a terminating endpoint gets no new requests and finishes its in-flight one', async (t) => {
  const a = await slowUpstream('a');
  const b = await startUpstream('b');
  const h = await startProxy(config([{ address: '127.0.0.1', port: a.up.port }, { address: '127.0.0.1', port: b.port }]));
  t.after(async () => {
    await h.close();
    await Promise.all([a.up.close(), b.close()]);
  });

  // Route the slow request to a (round robin starts at the first endpoint with random() = 0).
  let slow: Promise<{ status: number; body: string }> | null = null;
  for (let i = 0; i < 2 && slow === null; i++) {
    const p = send(h.port, { host: 'shop.test', path: '/slow' });
    const first = await Promise.race([a.arrived.then(() => 'a'), p.then(() => 'other')]);
    if (first === 'a') slow = p;
  }
  assert.ok(slow !== null, 'the slow request reached a');

  // a turns terminating (ready false, still serving): new requests go to b only.
  h.swap(config([{ address: '127.0.0.1', port: a.up.port, ready: false, serving: true, terminating: true }, { address: '127.0.0.1', port: b.port }]));
  assert.deepEqual(await servedBy(h.port, 10), { b: 10 });

  // The in-flight request on a completes in full.
  a.release();
  const reply = await slow;
  assert.equal(reply.status, 200);
  assert.equal(reply.body, 'a slow done');
});

test('every endpoint terminating but serving: they are used; terminating and not serving: 503', async (t) => {
  const a = await startUpstream('a');
  const b = await startUpstream('b');
  const h = await startProxy(config([{ address: '127.0.0.1', port: a.port }, { address: '127.0.0.1', port: b.port }]));
  t.after(async () => {
    await h.close();
    await Promise.all([a.close(), b.close()]);
  });
  h.swap(config([
    { address: '127.0.0.1', port: a.port, ready: false, serving: true, terminating: true },
    { address: '127.0.0.1', port: b.port, ready: false, serving: true, terminating: true },
  ]));
  assert.deepEqual(await servedBy(h.port, 10), { a: 5, b: 5 });

  // One still serving: only it.
  h.swap(config([
    { address: '127.0.0.1', port: a.port, ready: false, serving: false, terminating: true },
    { address: '127.0.0.1', port: b.port, ready: false, serving: true, terminating: true },
  ]));
  assert.deepEqual(await servedBy(h.port, 4), { b: 4 });

  // None serving: 503 with the proxy's own body.
  h.swap(config([
    { address: '127.0.0.1', port: a.port, ready: false, serving: false, terminating: true },
    { address: '127.0.0.1', port: b.port, ready: false, serving: false, terminating: true },
  ]));
  const r = await send(h.port, { host: 'shop.test', path: '/x' });
  assert.equal(r.status, 503);
  assert.match(r.body, /no ready endpoint/);
});

test('an endpoint removed from the table mid-request still completes that request', async (t) => {
  const a = await slowUpstream('a');
  const b = await startUpstream('b');
  const h = await startProxy(config([{ address: '127.0.0.1', port: a.up.port }]));
  t.after(async () => {
    await h.close();
    await Promise.all([a.up.close(), b.close()]);
  });
  const slow = send(h.port, { host: 'shop.test', path: '/slow' });
  await a.arrived;
  h.swap(config([{ address: '127.0.0.1', port: b.port }]));
  assert.deepEqual(await servedBy(h.port, 3), { b: 3 });
  a.release();
  const reply = await slow;
  assert.equal(reply.status, 200);
  assert.equal(reply.body, 'a slow done');
});
