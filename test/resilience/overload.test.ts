// Overload over real sockets: a per-endpoint connection cap with a short queue, then 503 with a
// clear body; slow-header clients get 408; --max-connections closes connections beyond the limit;
// main wires the flags into both listeners and the shared pools.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../../src/config.ts';
import { startSwitchyard } from '../../src/main.ts';
import { UpstreamPools } from '../../src/proxy/upstreams.ts';
import { routeConfig } from '../compile/config-builder.ts';
import { send, silentLogger, startProxy, startUpstream } from '../proxy/support.ts';

const HOST = 'shop.test';

test('per-endpoint connection cap: 1 connection + 1 queued, the rest 503 at once; the upstream never sees 2 connections', async (t) => {
  const held: ServerResponse[] = [];
  const arrived: (() => void)[] = [];
  let sockets = 0;
  let maxSockets = 0;
  const up = await startUpstream('slow', (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    held.push(res);
    arrived.shift()?.();
  });
  up.server.on('connection', (s) => {
    maxSockets = Math.max(maxSockets, ++sockets);
    s.on('close', () => sockets--);
  });
  const pools = new UpstreamPools({ maxConnections: 1, maxQueue: 1 });
  const config = routeConfig({ hosts: [{ host: HOST, routes: [{ path: '/', upstream: 'shop/web:80' }] }], upstreams: [{ key: 'shop/web:80', endpoints: [{ address: '127.0.0.1', port: up.port }] }] });
  const h = await startProxy(config, { pools });
  t.after(async () => {
    await h.close();
    await pools.close();
    await up.close();
  });
  const first = new Promise<void>((r) => arrived.push(r));
  const replies = [send(h.port, { host: HOST }), send(h.port, { host: HOST })];
  await first;
  const rejected = await Promise.all([send(h.port, { host: HOST }), send(h.port, { host: HOST })]);
  for (const r of rejected) {
    assert.equal(r.status, 503);
    assert.equal(r.body, 'Service Unavailable: backend overloaded\n');
  }
  // Answer the first; the queued one then gets the same connection.
  const second = new Promise<void>((r) => arrived.push(r));
  held[0].end('one');
  await second;
  held[1].end('two');
  assert.deepEqual((await Promise.all(replies)).map((r) => [r.status, r.body]), [[200, 'one'], [200, 'two']]);
  assert.equal(maxSockets, 1);
});

test('a client that does not finish its request head gets 408 after the header timeout', async (t) => {
  const config = routeConfig({ hosts: [], upstreams: [] });
  const h = await startProxy(config, { headersTimeout: 300 });
  t.after(() => h.close());
  const socket = connect(h.port, '127.0.0.1');
  await once(socket, 'connect');
  const started = Date.now();
  socket.write('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
  let text = '';
  socket.on('data', (d: Buffer) => (text += d));
  await once(socket, 'close');
  assert.match(text, /^HTTP\/1.1 408 /);
  const took = Date.now() - started;
  assert.ok(took >= 250 && took < 3000, `closed after ${took}ms`);
});

test('--max-connections: connections beyond the limit are closed at accept', async (t) => {
  const config = routeConfig({ hosts: [], upstreams: [] });
  const h = await startProxy(config, { maxConnections: 2 });
  t.after(() => h.close());
  const open = [connect(h.port, '127.0.0.1'), connect(h.port, '127.0.0.1')];
  await Promise.all(open.map((s) => once(s, 'connect')));
  await new Promise((r) => setTimeout(r, 50)); // let the server accept both
  const third = connect(h.port, '127.0.0.1');
  third.on('error', () => {});
  third.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  let text = '';
  third.on('data', (d: Buffer) => (text += d));
  await once(third, 'close');
  assert.equal(text, '', 'closed without an answer');
  // The first two still work.
  open[0].write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  const [reply] = (await once(open[0], 'data')) as [Buffer];
  assert.match(reply.toString(), /^HTTP\/1.1 404 /);
  for (const s of open) s.destroy();
});

test('main wires the overload flags into both listeners and the shared pools', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-overload-'));
  const config = defaultConfig({
    manifests: dir, httpPort: 0, adminPort: 0, httpsPort: 0, bindAddress: '127.0.0.1', adminBindAddress: '127.0.0.1', accessLog: false,
    maxConnections: 123, clientHeaderTimeoutMs: 7000, upstreamMaxConnections: 4, upstreamMaxQueue: 2,
  });
  const app = await startSwitchyard(config, silentLogger);
  t.after(async () => {
    await app.close(0);
    await rm(dir, { recursive: true, force: true });
  });
  assert.equal(app.proxy.server.maxConnections, 123);
  assert.equal(app.https.server.maxConnections, 123);
  assert.equal(app.proxy.server.headersTimeout, 7000);
  assert.equal(app.https.pools, app.proxy.pools);
  assert.equal(app.proxy.pools.get('http://127.0.0.1:9').maxInflight, 6);
});
