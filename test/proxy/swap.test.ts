import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { routeConfig } from '../compile/config-builder.ts';
import { send, startProxy, startUpstream } from './support.ts';
import type { Exchange } from '../../src/proxy/exchange.ts';

test('round robin over ready endpoints; not-ready endpoints get no traffic', async () => {
  const ups = await Promise.all(['a', 'b', 'c', 'not-ready'].map((n) => startUpstream(n)));
  const h = await startProxy(
    routeConfig({
      hosts: [{ host: '*', routes: [{ path: '/', upstream: 'default/rr:80' }] }],
      upstreams: [
        {
          key: 'default/rr:80',
          endpoints: ups.map((u) => ({ address: '127.0.0.1', port: u.port, ready: u.name !== 'not-ready', serving: u.name !== 'not-ready' })),
        },
      ],
    }),
  );
  try {
    const names: string[] = [];
    for (let i = 0; i < 9; i++) names.push((await send(h.port, { path: `/${i}` })).json().upstream);
    // Endpoints are sorted by address then port in the IR; the rotation repeats every 3.
    assert.deepEqual(new Set(names), new Set(['a', 'b', 'c']));
    assert.deepEqual(names.slice(0, 3), names.slice(3, 6));
    assert.deepEqual(names.slice(0, 3), names.slice(6, 9));
    assert.equal(ups[3].seen.length, 0);
  } finally {
    await h.close();
    await Promise.all(ups.map((u) => u.close()));
  }
});

test('atomic swap: request storm while the table is swapped hundreds of times -> zero failures', async () => {
  const [a, b, c] = await Promise.all([startUpstream('a'), startUpstream('b'), startUpstream('c')]);
  const upstreams = [
    { key: 'default/a:80', endpoints: [{ address: '127.0.0.1', port: a.port }] },
    { key: 'default/b:80', endpoints: [{ address: '127.0.0.1', port: b.port }] },
    { key: 'default/c:80', endpoints: [{ address: '127.0.0.1', port: c.port }] },
  ];
  // Two tables that disagree on everything except that every path we hit is served by someone:
  // routes are added/removed, backends replaced, the default backend moves.
  const one = routeConfig({
    hosts: [
      { host: 'shop.test', routes: [{ path: '/', upstream: 'default/a:80' }, { path: '/api', upstream: 'default/b:80' }] },
      { host: '*', routes: [{ path: '/', upstream: 'default/c:80' }] },
    ],
    upstreams,
    defaultBackend: 'default/a:80',
  });
  const two = routeConfig({
    hosts: [
      { host: 'shop.test', routes: [{ path: '/', upstream: 'default/b:80' }, { path: '/api', type: 'Exact', upstream: 'default/c:80' }] },
      { host: '*.test', routes: [{ path: '/new', upstream: 'default/a:80' }] },
    ],
    upstreams,
    defaultBackend: 'default/b:80',
  });
  const h = await startProxy(one);
  const agent = new Agent({ keepAlive: true, maxSockets: 24 });
  const total = 3000;
  const swaps = 400;
  const failures: string[] = [];
  let swapped = 0;
  let stop = false;
  try {
    const swapper = (async () => {
      while (swapped < swaps && !stop) {
        h.swap(swapped % 2 === 0 ? two : one);
        swapped++;
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    const hosts = ['shop.test', 'other.test', 'x.org'];
    const paths = ['/', '/api', '/api/v1', '/new', '/zzz?q=1'];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < total) {
        const i = next++;
        const reply = await send(h.port, { host: hosts[i % hosts.length], path: paths[i % paths.length], agent });
        if (reply.status !== 200 || !['a', 'b', 'c'].includes(reply.json().upstream)) failures.push(`${i}: ${reply.status} ${reply.body}`);
      }
    };
    await Promise.all(Array.from({ length: 24 }, worker));
    stop = true;
    await swapper;
  } finally {
    agent.destroy();
    await h.close();
    await Promise.all([a, b, c].map((u) => u.close()));
  }
  assert.deepEqual(failures, []);
  assert.ok(swapped >= 100, `only ${swapped} swaps happened during the storm`);
});

test('in-flight requests finish on the table they started with', async () => {
  let release: () => void = () => {};
  const released = new Promise<void>((r) => (release = r));
  let arrived: () => void = () => {};
  const arrival = new Promise<void>((r) => (arrived = r));
  const slow = await startUpstream('slow', (req, res, name) => {
    arrived();
    void released.then(() => res.end(name));
    req.resume();
  });
  const other = await startUpstream('other');
  const before = routeConfig({
    hosts: [{ host: '*', routes: [{ path: '/slow', upstream: 'default/slow:80' }, { path: '/', upstream: 'default/other:80' }] }],
    upstreams: [
      { key: 'default/slow:80', endpoints: [{ address: '127.0.0.1', port: slow.port }] },
      { key: 'default/other:80', endpoints: [{ address: '127.0.0.1', port: other.port }] },
    ],
  });
  // The new table removes the route AND its upstream.
  const after = routeConfig({
    hosts: [{ host: '*', routes: [{ path: '/other', upstream: 'default/other:80' }] }],
    upstreams: [{ key: 'default/other:80', endpoints: [{ address: '127.0.0.1', port: other.port }] }],
  });
  const completed: Exchange[] = [];
  const h = await startProxy(before, { onComplete: (e) => completed.push(e) });
  try {
    const firstGeneration = h.routeRef.current.generation;
    const inflight = send(h.port, { path: '/slow' });
    await arrival;
    const table = h.swap(after);
    assert.equal((await send(h.port, { path: '/slow' })).status, 404);
    release();
    const reply = await inflight;
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'slow');
    const slowExchange = completed.find((e) => e.matchPath === '/slow' && e.status === 200);
    assert.equal(slowExchange?.generation, firstGeneration);
    assert.notEqual(table.generation, firstGeneration);
  } finally {
    await h.close();
    await Promise.all([slow.close(), other.close()]);
  }
});
