import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { routeConfig } from '../compile/config-builder.ts';
import { send, startProxy, startUpstream, type Harness, type Upstream } from './support.ts';
import { captureLogs } from '../support/log-capture.ts';

let up: Upstream;
let h: Harness;

/** Every host and path to one upstream. */
function everyHostTo(name: string, port: number): ReturnType<typeof routeConfig> {
  return routeConfig({
    hosts: [{ host: '*', routes: [{ path: '/', upstream: `default/${name}:80` }] }],
    upstreams: [{ key: `default/${name}:80`, endpoints: [{ address: '127.0.0.1', port }] }],
  });
}

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
    everyHostTo('echo', up.port),
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

/** Writes `head` on a fresh connection and returns everything the proxy sent until it closed. */
function rawExchange(port: number, head: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    let data = '';
    socket.on('data', (c) => (data += c));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

test('absolute-form target: its authority replaces Host and X-Forwarded-Host upstream', async () => {
  const reply = await send(h.port, { host: 'other.test', path: 'http://Target.Example:81/p?q' });
  assert.equal(reply.status, 200);
  const headers = reply.json().headers;
  assert.equal(headers.host, 'Target.Example:81');
  assert.equal(headers['x-forwarded-host'], 'Target.Example:81');
  assert.equal(reply.json().url, '/p?q');
  // HTTP/1.0 absolute-form without any Host header: both are added.
  const raw = await rawExchange(h.port, 'GET http://plain.test/p HTTP/1.0\r\n\r\n');
  assert.match(raw, /^HTTP\/1\.1 200/);
  assert.match(raw, /"host":"plain\.test"/);
  assert.match(raw, /"x-forwarded-host":"plain\.test"/);
});

test('Host: missing on HTTP/1.1, repeated or invalid -> 400 with a plain body and a log line', async () => {
  const { logger, lines } = captureLogs('info');
  const strict = await startProxy(
    everyHostTo('echo', up.port),
    { logger },
  );
  try {
    const cases: [string, string][] = [
      ['GET /a HTTP/1.1\r\nConnection: close\r\n\r\n', 'missing Host header'],
      ['GET /a HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: close\r\n\r\n', 'duplicate Host header'],
      ['GET /a HTTP/1.1\r\nHost: a.test\r\nhost: a.test\r\nConnection: close\r\n\r\n', 'duplicate Host header'],
      ['GET /a HTTP/1.1\r\nHost: a.test/b\r\nConnection: close\r\n\r\n', 'invalid Host header'],
      ['GET /a HTTP/1.1\r\nHost: a..test\r\nConnection: close\r\n\r\n', 'invalid Host header'],
      ['GET /a HTTP/1.1\r\nHost: a test\r\nConnection: close\r\n\r\n', 'invalid Host header'],
      ['GET /a HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n', 'empty Host header'],
      ['GET /a HTTP/1.0\r\nHost: a.test\r\nHost: b.test\r\n\r\n', 'duplicate Host header'],
      ['GET http://a..test/a HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n', 'invalid Host header'],
    ];
    for (const [head, why] of cases) {
      const raw = await rawExchange(strict.port, head);
      assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify(head));
      assert.ok(raw.endsWith('\r\n\r\nBad Request: missing, repeated or invalid Host header\n'), JSON.stringify(raw));
      assert.match(raw, /\r\ncontent-type: text\/plain/i);
      const line = lines.at(-1);
      assert.equal(line?.reason, 'SWY_ERR_BAD_HOST', JSON.stringify(head));
      assert.equal(line?.status, 400);
      assert.equal((line?.err as { message?: string } | undefined)?.message, why);
    }
    // An absolute-form authority replaces a repeated Host (RFC 9112 3.2.2: the Host headers are ignored).
    const absolute = await rawExchange(strict.port, 'GET http://c.test/a HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: close\r\n\r\n');
    assert.match(absolute, /^HTTP\/1\.1 200/);
    assert.match(absolute, /"host":"c\.test"/);
    // Ports, IPv6 literals, upper case and a trailing dot are hosts.
    for (const host of ['a.test:8080', '[::1]:8080', 'A.Test.', '127.0.0.1']) {
      assert.equal((await send(strict.port, { host })).status, 200, host);
    }
  } finally {
    await strict.close();
  }
});

test('TRACE gets 405 and never reaches the upstream (as nginx: it would echo cookies back)', async () => {
  let seen = 0;
  const counting = await startUpstream('count', (req, res) => {
    seen++;
    res.end(req.method);
  });
  const { logger, lines } = captureLogs('info');
  const p = await startProxy(
    everyHostTo('count', counting.port),
    { logger },
  );
  try {
    const reply = await send(p.port, { method: 'TRACE', path: '/x', headers: { cookie: 'session=secret' } });
    assert.equal(reply.status, 405);
    assert.equal(reply.body, 'Method Not Allowed: TRACE is not proxied\n');
    assert.equal(seen, 0);
    assert.equal(lines.at(-1)?.reason, 'SWY_ERR_METHOD_NOT_ALLOWED');
    assert.equal((await send(p.port, { method: 'OPTIONS', path: '/x' })).body, 'OPTIONS');
    assert.equal(seen, 1);
  } finally {
    await p.close();
    await counting.close();
  }
});
