import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { UpstreamPools } from '../../src/proxy/upstreams.ts';
import { routeConfig } from '../compile/config-builder.ts';
import { send, startProxy, startUpstream } from './support.ts';

test('pools: unused pools are closed by the sweeper, in-flight ones never; a closed origin gets a new pool', async () => {
  const pools = new UpstreamPools({ idleTimeout: 60_000 });
  try {
    const a = pools.get('http://127.0.0.1:1');
    const b = pools.get('http://127.0.0.1:2');
    assert.equal(pools.get('http://127.0.0.1:1'), a);
    b.inflight = 1;
    // 60 s idle with a 15 s sweep interval: closed on the 4th sweep that finds it unused.
    for (let i = 0; i < 5; i++) pools.sweep();
    assert.equal(a.closed, true);
    assert.equal(b.closed, false);
    assert.equal(pools.size, 1);
    const again = pools.get('http://127.0.0.1:1');
    assert.notEqual(again, a);
    assert.equal(again.closed, false);
    b.inflight = 0;
  } finally {
    await pools.close();
  }
});

test('swaps keep upstream connections warm (pools live outside the table)', async () => {
  const up = await startUpstream('warm');
  let connections = 0;
  up.server.on('connection', () => connections++);
  const config = (path: string) =>
    routeConfig({
      hosts: [{ host: '*', routes: [{ path, upstream: 'default/warm:80' }] }],
      upstreams: [{ key: 'default/warm:80', endpoints: [{ address: '127.0.0.1', port: up.port }] }],
    });
  const h = await startProxy(config('/'));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 20; i++) {
      h.swap(config(i % 2 === 0 ? '/' : '/x'));
      const reply = await send(h.port, { path: '/x/y', agent });
      assert.equal(reply.json().upstream, 'warm');
    }
    assert.equal(connections, 1);
    assert.equal(h.proxy.pools.size, 1);
  } finally {
    agent.destroy();
    await h.close();
    await up.close();
  }
});
