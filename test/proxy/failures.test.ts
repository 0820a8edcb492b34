import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer as createNetServer, type Server as NetServer } from 'node:net';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { routeConfig } from '../compile/config-builder.ts';
import { send, startProxy, startUpstream, type Harness, type Upstream } from './support.ts';
import type { Exchange } from '../../src/proxy/exchange.ts';

let up: Upstream;
let garbage: NetServer;
let garbagePort: number;
let h: Harness;
const completed: Exchange[] = [];
/** Upstream-side events the tests wait on. */
const upstreamClosed = new Map<string, () => void>();

before(async () => {
  up = await startUpstream('failing', (req, res, name) => {
    const path = req.url ?? '/';
    if (path.startsWith('/hang')) {
      // Never answers; tells the test when the proxy gave up on it.
      res.on('close', () => upstreamClosed.get(path)?.());
      return;
    }
    if (path === '/reset-before') {
      req.socket.destroy();
      return;
    }
    if (path === '/reset-mid') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000000' });
      res.write('partial');
      setTimeout(() => req.socket.destroy(), 20);
      return;
    }
    if (path === '/stall-body') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first');
      return; // then nothing: body idle timeout
    }
    if (path === '/slow-reader') {
      // Reads nothing of the request body; answers only when told.
      return;
    }
    res.end(name);
  });
  garbage = createNetServer((socket) => {
    socket.once('data', () => socket.end('HTTP/1.1 abc nonsense\r\n\r\n'));
  });
  await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
  garbagePort = (garbage.address() as AddressInfo).port;

  // A port nobody listens on: bind, note, close.
  const tmp = createNetServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  const deadPort = (tmp.address() as AddressInfo).port;
  await new Promise<void>((r) => tmp.close(() => r()));

  h = await startProxy(
    routeConfig({
      hosts: [
        {
          host: '*',
          routes: [
            { path: '/', upstream: 'default/failing:80' },
            { path: '/refused', upstream: 'default/dead:80' },
            { path: '/garbage', upstream: 'default/garbage:80' },
          ],
        },
      ],
      upstreams: [
        { key: 'default/failing:80', endpoints: [{ address: '127.0.0.1', port: up.port }] },
        { key: 'default/dead:80', endpoints: [{ address: '127.0.0.1', port: deadPort }] },
        { key: 'default/garbage:80', endpoints: [{ address: '127.0.0.1', port: garbagePort }] },
      ],
    }),
    { timeouts: { readTimeout: 300, sendTimeout: 300 }, onComplete: (e) => completed.push(e) },
  );
});

after(async () => {
  await h.close();
  await up.close();
  await new Promise<void>((r) => garbage.close(() => r()));
});

function lastCompleted(path: string): Exchange | undefined {
  return completed.findLast((e) => e.matchPath === path);
}

test('502 when the upstream refuses the connection', async () => {
  const reply = await send(h.port, { path: '/refused' });
  assert.equal(reply.status, 502);
  assert.equal(reply.body, 'Bad Gateway: upstream refused the connection\n');
  assert.equal(lastCompleted('/refused')?.errorCode, 'SWY_ERR_UPSTREAM_REFUSED');
});

test('502 when the upstream resets before answering', async () => {
  const reply = await send(h.port, { path: '/reset-before' });
  assert.equal(reply.status, 502);
  assert.equal(reply.body, 'Bad Gateway: upstream closed the connection\n');
  assert.equal(lastCompleted('/reset-before')?.errorCode, 'SWY_ERR_UPSTREAM_RESET');
});

test('502 when the upstream answers garbage', async () => {
  const reply = await send(h.port, { path: '/garbage' });
  assert.equal(reply.status, 502);
  assert.equal(reply.body, 'Bad Gateway: invalid upstream response\n');
});

test('504 when the upstream does not answer within the read timeout', async () => {
  const closed = new Promise<void>((r) => upstreamClosed.set('/hang/read', r));
  const reply = await send(h.port, { path: '/hang/read' });
  assert.equal(reply.status, 504);
  assert.equal(reply.body, 'Gateway Timeout: upstream did not answer in time\n');
  assert.equal(lastCompleted('/hang/read')?.errorCode, 'SWY_ERR_UPSTREAM_TIMEOUT');
  await closed; // the upstream request was aborted, not left hanging
});

test('504 for a request with a body whose upstream never answers (read timeout after send)', async () => {
  const reply = await send(h.port, { method: 'POST', path: '/hang/post', body: 'data' });
  assert.equal(reply.status, 504);
  assert.equal(lastCompleted('/hang/post')?.errorCode, 'SWY_ERR_UPSTREAM_TIMEOUT');
});

test('504 send timeout when the request body stalls', async () => {
  const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: h.port, method: 'POST', path: '/slow-reader', headers: { 'content-length': '100' } },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.write('only ten..'); // and never the rest
  });
  assert.equal(reply.status, 504);
  assert.equal(reply.body, 'Gateway Timeout: sending the request to the upstream timed out\n');
  assert.equal(lastCompleted('/slow-reader')?.errorCode, 'SWY_ERR_UPSTREAM_SEND_TIMEOUT');
});

test('upstream reset mid-response ends the client response (no hang)', async () => {
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port: h.port, path: '/reset-mid' }, resolve).on('error', reject).end();
  });
  assert.equal(res.statusCode, 200);
  let received = '';
  const ended = await new Promise<string>((resolve) => {
    res.on('data', (c) => (received += c));
    res.on('end', () => resolve('end'));
    res.on('aborted', () => resolve('aborted'));
    res.on('error', () => resolve('error'));
  });
  assert.notEqual(ended, 'end');
  assert.equal(received, 'partial');
  assert.equal(lastCompleted('/reset-mid')?.errorCode, 'SWY_ERR_UPSTREAM_RESET');
});

test('upstream body idle beyond the read timeout ends the client response', async () => {
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port: h.port, path: '/stall-body' }, resolve).on('error', reject).end();
  });
  assert.equal(res.statusCode, 200);
  const how = await new Promise<string>((resolve) => {
    res.resume();
    res.on('end', () => resolve('end'));
    res.on('error', () => resolve('error'));
    res.on('aborted', () => resolve('aborted'));
  });
  assert.notEqual(how, 'end');
  assert.equal(lastCompleted('/stall-body')?.errorCode, 'SWY_ERR_UPSTREAM_TIMEOUT');
});

test('client disconnect aborts the upstream request', async () => {
  const closed = new Promise<void>((r) => upstreamClosed.set('/hang/abort', r));
  const socket = connect(h.port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('GET /hang/abort HTTP/1.1\r\nHost: a\r\n\r\n');
  // Wait until the upstream has the request, then hang up.
  while (!up.seen.some((s) => s.url === '/hang/abort')) await new Promise((r) => setTimeout(r, 5));
  socket.destroy();
  await closed;
  const ex = lastCompleted('/hang/abort');
  assert.equal(ex?.errorCode, 'SWY_ERR_CLIENT_ABORTED');
  assert.equal(ex?.status, 499);
});

test('malformed requests get 400 from node\'s parser hook', async () => {
  const socket = connect(h.port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n');
  let data = '';
  socket.on('data', (c) => (data += c));
  await once(socket, 'end');
  assert.match(data, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(data, /\r\n\r\nBad Request\n$/);
});

test('asterisk-form and authority-form targets get 400', async () => {
  const options = await send(h.port, { method: 'OPTIONS', path: '*' });
  assert.equal(options.status, 400);
  const socket = connect(h.port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  let data = '';
  socket.on('data', (c) => (data += c));
  await once(socket, 'end');
  assert.match(data, /^HTTP\/1\.1 400 /);
});

test('every request completes exactly once', () => {
  assert.equal(new Set(completed).size, completed.length);
  for (const e of completed) assert.ok(e.done && e.endTime >= e.startTime);
});

test('504 when connecting to the upstream times out', async () => {
  // A DNS name whose lookup never answers keeps the connect pending: undici's connect timer covers it.
  const { UpstreamPools } = await import('../../src/proxy/upstreams.ts');
  const pools = new UpstreamPools({ connectTimeout: 200, lookup: () => {} });
  const h2 = await startProxy(
    routeConfig({
      hosts: [{ host: '*', routes: [{ path: '/', upstream: 'default/blackhole:80' }] }],
      upstreams: [{ key: 'default/blackhole:80', endpoints: [{ address: 'blackhole.invalid', port: 80 }] }],
    }),
    { pools },
  );
  try {
    const reply = await send(h2.port, { path: '/x' });
    assert.equal(reply.status, 504);
    assert.equal(reply.body, 'Gateway Timeout: upstream connect timed out\n');
  } finally {
    await h2.close();
    await pools.destroy();
  }
});
