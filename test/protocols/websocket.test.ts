// WebSocket / Upgrade through the proxy over real sockets: echo, large messages both ways
// (backpressure through pipe), close in both directions, a connection kept open through many route
// table swaps (one of which removes its route and a later one re-adds it), failures before the
// upgrade (404, 502, 504, the upstream's own refusal relayed).
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { RouteConfig, RouteSettings } from '../../src/model/route-config.ts';
import { routeConfig } from '../compile/config-builder.ts';
import { startProxy, type Harness } from '../proxy/support.ts';
import { WsClient, startWsUpstream, type WsUpstream } from './ws-support.ts';

function config(routes: Record<string, number>): RouteConfig {
  const paths = Object.keys(routes);
  return routeConfig({
    hosts: [{ host: '*', routes: paths.map((path) => ({ path, upstream: `default/svc${routes[path]}:80` })) }],
    upstreams: [...new Set(Object.values(routes))].map((port) => ({ key: `default/svc${port}:80`, endpoints: [{ address: '127.0.0.1', port }] })),
  });
}

/** `base` with route settings on the given paths. */
function withSettings(base: RouteConfig, byPath: Record<string, RouteSettings>): RouteConfig {
  return {
    ...base,
    virtualHosts: base.virtualHosts.map((vh) => ({ ...vh, routes: vh.routes.map((r) => (byPath[r.path] === undefined ? r : { ...r, settings: byPath[r.path] })) })),
  };
}

/** A raw Upgrade request; resolves with the status of a non-101 answer and its body. */
function rawUpgrade(port: number, path: string, host = 'app.example.com'): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1', port, path, agent: false,
      headers: { host, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '', headers: res.headers });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('WebSocket through the proxy', () => {
  let a: WsUpstream;
  let b: WsUpstream;
  let h: Harness;

  before(async () => {
    a = await startWsUpstream('a');
    b = await startWsUpstream('b');
    h = await startProxy(config({ '/chat': a.port, '/other': b.port }));
  });
  after(async () => {
    await h.close();
    await a.close();
    await b.close();
  });

  test('echo, forwarded headers, close from the client reaches the upstream', async () => {
    const c = new WsClient(`ws://127.0.0.1:${h.port}/chat/room?x=1`);
    await c.opened;
    assert.equal(await c.next(), 'hello from a /chat/room?x=1');
    c.ws.send('ping');
    assert.equal(await c.next(), 'a:ping');
    const seen = a.upgrades.at(-1)!;
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['x-real-ip'], '127.0.0.1');
    assert.equal(seen.upgrade, 'websocket');
    assert.match(String(seen['x-request-id']), /^[0-9a-f]{32}$/);
    assert.equal(h.proxy.upgrades.connections, 1);
    const closedBefore = a.closed;
    c.ws.close(1000, 'bye');
    const event = await c.closedEvent;
    assert.equal(event.code, 1000);
    while (a.closed === closedBefore || h.proxy.upgrades.connections > 0) await new Promise((r) => setImmediate(r));
  });

  test('large binary messages both ways (backpressure through the pipes)', async () => {
    const c = new WsClient(`ws://127.0.0.1:${h.port}/other`);
    await c.opened;
    await c.next(); // hello
    const big = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = i & 255;
    for (let i = 0; i < 3; i++) c.ws.send(big);
    for (let i = 0; i < 3; i++) {
      const m = (await c.next()) as Buffer;
      assert.equal(m.length, big.length);
      assert.ok(m.equals(big));
    }
    c.ws.close();
    await c.closedEvent;
  });

  test('an open WebSocket survives 60 table swaps, including removing and re-adding its route', async () => {
    const c = new WsClient(`ws://127.0.0.1:${h.port}/chat`);
    await c.opened;
    await c.next();
    const generation = h.routeRef.current.generation;
    for (let i = 0; i < 60; i++) {
      if (i === 20) {
        h.swap(config({ '/other': b.port })); // its route is gone: new upgrades get 404 ...
        assert.equal((await rawUpgrade(h.port, '/chat')).status, 404);
      } else if (i === 40) {
        h.swap(config({ '/chat': a.port, '/other': b.port })); // ... and back
      } else {
        h.swap(config(i % 2 === 0 ? { '/chat': a.port, '/other': b.port, [`/extra${i}`]: b.port } : { '/chat': a.port, '/other': b.port }));
      }
      c.ws.send(`m${i}`);
      assert.equal(await c.next(), `a:m${i}`);
    }
    assert.ok(h.routeRef.current.generation >= generation + 60);
    // Close from the upstream side reaches the client.
    for (const s of a.sockets) s.end();
    const event = await c.closedEvent;
    assert.ok(event.code === 1006 || event.code === 1005, `closed by the peer (code ${event.code})`);
  });

  test('failures before the upgrade: 404, 502 (refused), 504 (no answer), the upstream refusal relayed', async () => {
    const noRoute = await startProxy(routeConfig({ hosts: [{ host: 'other.example.com', routes: [{ path: '/', upstream: 'default/x:80' }] }], upstreams: [] }));
    try {
      const r = await rawUpgrade(noRoute.port, '/chat');
      assert.equal(r.status, 404);
      assert.match(r.body, /Not Found/);
    } finally {
      await noRoute.close();
    }

    // A port nothing listens on: 502.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const refused = await startProxy(config({ '/': deadPort }));
    try {
      const r = await rawUpgrade(refused.port, '/');
      assert.equal(r.status, 502);
      assert.match(r.body, /Bad Gateway/);
    } finally {
      await refused.close();
    }

    // An upstream that accepts the connection and never answers: 504 after the read timeout.
    const silent: Server = createServer((s) => s.on('error', () => {}).resume());
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const slow = await startProxy(config({ '/': (silent.address() as AddressInfo).port }), { timeouts: { readTimeout: 200 } });
    try {
      const r = await rawUpgrade(slow.port, '/');
      assert.equal(r.status, 504);
      assert.match(r.body, /Gateway Timeout/);
    } finally {
      await slow.close();
      await new Promise<void>((r) => silent.close(() => r()));
    }

    // The upstream refuses the upgrade: its answer is relayed and the connection closed.
    const refusing = await startWsUpstream('r', { refuse: 403 });
    const relay = await startProxy(config({ '/': refusing.port }));
    try {
      const r = await rawUpgrade(relay.port, '/');
      assert.equal(r.status, 403);
      assert.equal(r.body, 'refused');
      assert.equal(r.headers.connection, 'close');
    } finally {
      await relay.close();
      await refusing.close();
    }
  });

  test('an upgrade request with a repeated or invalid Host gets 400, an absolute-form one goes by its authority', async () => {
    const raw = (head: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connect(h.port, '127.0.0.1', () => socket.write(head));
        let data = '';
        socket.setTimeout(2000, () => {
          socket.destroy(); // an upgrade that went through never ends by itself
          resolve(data);
        });
        socket.on('data', (c) => (data += c));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
      });
    const upgrade = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    for (const hosts of ['Host: a.test\r\nHost: b.test\r\n', 'Host: a/b\r\n', '']) {
      const answer = await raw(`GET /chat HTTP/1.1\r\n${hosts}${upgrade}`);
      assert.match(answer, /^HTTP\/1\.1 400 /, hosts);
      assert.match(answer, /Bad Request: missing, repeated or invalid Host header\n$/, hosts);
    }
    // absolute-form: routed by its authority, which the upstream also sees as Host.
    const socket = connect(h.port, '127.0.0.1', () => socket.write(`GET http://abs.example.com/chat HTTP/1.1\r\nHost: ignored.example.com\r\n${upgrade}`));
    try {
      const head = await new Promise<string>((resolve, reject) => {
        socket.once('data', (c) => resolve(String(c)));
        socket.on('error', reject);
      });
      assert.match(head, /^HTTP\/1\.1 101 /);
      assert.equal(a.upgrades.at(-1)?.host, 'abs.example.com');
      assert.equal(a.upgrades.at(-1)?.['x-forwarded-host'], 'abs.example.com');
    } finally {
      socket.destroy();
    }
  });

  test('source ranges apply to upgrade requests: 403 outside allowlist-source-range', async () => {
    const limited = await startProxy(withSettings(config({ '/chat': a.port, '/open': a.port }), { '/chat': { allowSourceRanges: ['10.0.0.0/8'] } }));
    try {
      const refused = await rawUpgrade(limited.port, '/chat');
      assert.equal(refused.status, 403);
      assert.equal(refused.body, 'Forbidden\n');
      assert.equal((await rawUpgrade(limited.port, '/open')).status, 101);
    } finally {
      await limited.close();
    }
  });

  test('rewrite-target, upstream-vhost and x-forwarded-prefix apply to upgrade requests', async () => {
    // As translate builds it from use-regex paths: path "/ws(/|$)(.*)" with rewrite-target "/$2".
    const base = withSettings(config({ '/ws': a.port }), { '/ws': { rewriteTarget: '/$2', upstreamVhost: 'chat.internal', forwardedPrefix: '/ws' } });
    const regex: RouteConfig = {
      ...base,
      virtualHosts: base.virtualHosts.map((vh) => ({ ...vh, routes: vh.routes.map((r) => ({ ...r, path: '/ws(/|$)(.*)', match: 'regex' as const, matchPath: '^/ws(/|$)(.*)' })) })),
    };
    const tuned = await startProxy(regex);
    try {
      assert.equal((await rawUpgrade(tuned.port, '/ws/room/1?x=y')).status, 101);
      assert.equal(a.urls.at(-1), '/room/1?x=y');
      assert.equal(a.upgrades.at(-1)?.host, 'chat.internal');
      assert.equal(a.upgrades.at(-1)?.['x-forwarded-host'], 'app.example.com');
      assert.equal(a.upgrades.at(-1)?.['x-forwarded-prefix'], '/ws');
    } finally {
      await tuned.close();
    }
  });

  test('ssl-redirect applies to upgrade requests on plain HTTP', async () => {
    const redirecting = await startProxy(withSettings(config({ '/': a.port }), { '/': { sslRedirect: true } }));
    try {
      const r = await rawUpgrade(redirecting.port, '/ws?a=b', 'chat.example.com');
      assert.equal(r.status, 308);
      assert.equal(r.headers.location, 'https://chat.example.com/ws?a=b');
    } finally {
      await redirecting.close();
    }
  });
});
