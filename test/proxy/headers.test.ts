import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { routeConfig } from '../compile/config-builder.ts';
import { send, startProxy, startUpstream, type Harness, type Upstream } from './support.ts';

let up: Upstream;
let h: Harness;

before(async () => {
  up = await startUpstream('echo', (req, res, name) => {
    res.writeHead(200, {
      'content-type': 'application/json',
      'x-upstream': name,
      'keep-alive': 'timeout=5',
      'x-drop-me': 'yes',
      connection: 'keep-alive, x-drop-me',
      'set-cookie': ['a=1', 'b=2'],
    });
    res.end(JSON.stringify({ upstream: name, url: req.url, headers: req.headers }));
  });
  h = await startProxy(
    routeConfig({
      hosts: [{ host: '*', routes: [{ path: '/', upstream: 'default/echo:80' }] }],
      upstreams: [{ key: 'default/echo:80', endpoints: [{ address: '127.0.0.1', port: up.port }] }],
    }),
  );
});

after(async () => {
  await h.close();
  await up.close();
});

test('request headers: hop-by-hop removed, X-Forwarded-* set, Host preserved, end-to-end kept', async () => {
  const reply = await send(h.port, {
    host: 'Shop.Example.com:8080',
    path: '/p',
    headers: {
      connection: 'keep-alive, x-hop',
      'x-hop': 'secret',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'keep-alive',
      te: 'trailers',
      'proxy-authorization': 'Basic Zm9vOmJhcg==',
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.test',
      'x-forwarded-port': '1',
      'x-real-ip': '6.6.6.6',
      'x-custom': 'kept',
      cookie: 'c=1',
    },
  });
  const headers = reply.json().headers;
  assert.equal(headers.host, 'Shop.Example.com:8080');
  assert.equal(headers['x-custom'], 'kept');
  assert.equal(headers.cookie, 'c=1');
  for (const hop of ['x-hop', 'keep-alive', 'proxy-connection', 'te', 'proxy-authorization', 'upgrade', 'trailer']) {
    assert.equal(headers[hop], undefined, hop);
  }
  assert.equal(headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
  assert.equal(headers['x-forwarded-proto'], 'http');
  assert.equal(headers['x-forwarded-host'], 'Shop.Example.com:8080');
  assert.equal(headers['x-forwarded-port'], String(h.port));
  assert.equal(headers['x-real-ip'], '127.0.0.1');
  assert.match(String(headers['x-request-id']), /^[0-9a-f]{32}$/);
});

test('X-Request-ID: a sane client id is kept, a bad one replaced, generated ids differ', async () => {
  const kept = await send(h.port, { headers: { 'x-request-id': 'abc-123.XYZ_9:1' } });
  assert.equal(kept.json().headers['x-request-id'], 'abc-123.XYZ_9:1');
  const replaced = await send(h.port, { headers: { 'x-request-id': 'has space' } });
  assert.match(String(replaced.json().headers['x-request-id']), /^[0-9a-f]{32}$/);
  const a = (await send(h.port)).json().headers['x-request-id'];
  const b = (await send(h.port)).json().headers['x-request-id'];
  assert.notEqual(a, b);
});

test('X-Forwarded-For without a client value is the peer address', async () => {
  const reply = await send(h.port);
  assert.equal(reply.json().headers['x-forwarded-for'], '127.0.0.1');
});

test('response headers: hop-by-hop and Connection-listed removed, repeated headers kept', async () => {
  const reply = await send(h.port);
  assert.equal(reply.headers['x-upstream'], 'echo');
  assert.equal(reply.headers['x-drop-me'], undefined);
  assert.notEqual(reply.headers['keep-alive'], 'timeout=5');
  assert.deepEqual(reply.headers['set-cookie'], ['a=1', 'b=2']);
});

test('HTTP/1.0 request without Host goes to the any-host routes', async () => {
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(h.port, '127.0.0.1', () => socket.write('GET /ten HTTP/1.0\r\n\r\n'));
    let data = '';
    socket.on('data', (c) => (data += c));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
  assert.match(raw, /^HTTP\/1\.[01] 200/);
  assert.match(raw, /"upstream":"echo"/);
});
