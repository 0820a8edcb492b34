import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { Agent, request as httpRequest } from 'node:http';
import { routeConfig } from '../compile/config-builder.ts';
import { send, sized, sizedBodies, stalledPipeline, startProxy, startUpstream, type Harness, type Upstream } from './support.ts';

const MiB = 1024 * 1024;
let up: Upstream;
let h: Harness;

/** Deterministic pseudo-random chunk i of a stream. */
function chunk(i: number, size = 64 * 1024): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let j = 0; j < size; j += 4) b.writeUInt32LE((i * 2654435761 + j) >>> 0, j);
  return b;
}

before(async () => {
  up = await startUpstream('stream', (req, res, name) => {
    const url = new URL(req.url ?? '/', 'http://x');
    switch (url.pathname) {
      case '/upload': {
        // Hash the request body as it streams, answer with size + hash.
        const hash = createHash('sha256');
        let size = 0;
        req.on('data', (c: Buffer) => {
          size += c.length;
          hash.update(c);
        });
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ upstream: name, size, sha256: hash.digest('hex'), te: req.headers['transfer-encoding'] ?? null }));
        });
        return;
      }
      case '/download': {
        // Stream N chunks with backpressure, chunked (no content-length).
        const n = Number(url.searchParams.get('chunks'));
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        let i = 0;
        const pump = (): void => {
          while (i < n) {
            if (!res.write(chunk(i++))) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        req.resume();
        return;
      }
      case '/head':
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '11' });
        res.end(req.method === 'HEAD' ? undefined : 'hello world');
        return;
      case '/204':
        res.writeHead(204, { 'x-upstream': name });
        res.end();
        return;
      case '/304':
        res.writeHead(304, { etag: '"v1"' });
        res.end();
        return;
      case '/echo-body':
        req.pipe(res);
        return;
      case '/sized':
      case '/paced':
        sizedBodies(req, res, name);
        return;
      default:
        res.end(name);
    }
  });
  h = await startProxy(
    routeConfig({
      hosts: [{ host: '*', routes: [{ path: '/', upstream: 'default/stream:80' }] }],
      upstreams: [{ key: 'default/stream:80', endpoints: [{ address: '127.0.0.1', port: up.port }] }],
    }),
  );
});

after(async () => {
  await h.close();
  await up.close();
});

test('large request body streams upstream (chunked and with content-length)', async () => {
  const n = 320; // 20 MiB
  const expected = createHash('sha256');
  for (let i = 0; i < n; i++) expected.update(chunk(i));
  const digest = expected.digest('hex');

  for (const withLength of [false, true]) {
    const reply = await new Promise<string>((resolve, reject) => {
      const headers: Record<string, string> = withLength ? { 'content-length': String(n * 64 * 1024) } : {};
      const req = httpRequest({ host: '127.0.0.1', port: h.port, method: 'POST', path: '/upload', headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      let i = 0;
      const pump = (): void => {
        while (i < n) {
          if (!req.write(chunk(i++))) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    });
    const parsed = JSON.parse(reply);
    assert.equal(parsed.size, n * 64 * 1024);
    assert.equal(parsed.sha256, digest);
    assert.equal(parsed.te, withLength ? null : 'chunked');
  }
});

test('large response body streams to a slow client with backpressure', async () => {
  const n = 480; // 30 MiB
  const expected = createHash('sha256');
  for (let i = 0; i < n; i++) expected.update(chunk(i));
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port: h.port, path: `/download?chunks=${n}` }, resolve).on('error', reject).end();
  });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['transfer-encoding'], 'chunked');
  const hash = createHash('sha256');
  let size = 0;
  let paused = 0;
  for await (const c of res) {
    hash.update(c as Buffer);
    size += (c as Buffer).length;
    // Read slowly at first so the proxy has to apply backpressure to the upstream.
    if (paused < 20) {
      paused++;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  assert.equal(size, n * 64 * 1024);
  assert.equal(hash.digest('hex'), expected.digest('hex'));
});

test('echoes a body both ways at once', async () => {
  const body = Buffer.alloc(3 * MiB, 'x');
  const reply = await send(h.port, { method: 'PUT', path: '/echo-body', body });
  assert.equal(reply.status, 200);
  assert.equal(reply.body.length, body.length);
});

test('HEAD, 204 and 304 carry no body', async () => {
  const head = await send(h.port, { method: 'HEAD', path: '/head' });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '11');
  assert.equal(head.body, '');
  const get = await send(h.port, { path: '/head' });
  assert.equal(get.body, 'hello world');
  const noContent = await send(h.port, { path: '/204' });
  assert.equal(noContent.status, 204);
  assert.equal(noContent.body, '');
  assert.equal(noContent.headers['x-upstream'], 'stream');
  const notModified = await send(h.port, { path: '/304' });
  assert.equal(notModified.status, 304);
  assert.equal(notModified.headers.etag, '"v1"');
});

test('Expect: 100-continue gets a 100 and the body is forwarded', async () => {
  const res = await new Promise<string>((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: h.port, method: 'POST', path: '/upload', headers: { expect: '100-continue', 'content-length': '5' } },
      (r) => {
        let b = '';
        r.on('data', (c) => (b += c));
        r.on('end', () => resolve(b));
      },
    );
    req.on('continue', () => req.end('hello'));
    req.on('error', reject);
  });
  assert.equal(JSON.parse(res).size, 5);
});

/** Writes `head` on a fresh connection; resolves with all bytes received and whether the proxy closed it. */
function untilClosed(port: number, head: string, waitMs = 3000): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ data, closed: false });
    }, waitMs);
    socket.on('data', (c) => (data += c));
    socket.on('end', () => {
      clearTimeout(timer);
      resolve({ data, closed: true });
    });
    socket.on('error', reject);
  });
}

test('Expect: 100-continue to a request the proxy refuses: the final status, no 100, the connection closed', async () => {
  const limited = await startProxy(
    routeConfig({
      hosts: [{ host: 'a.test', routes: [{ path: '/', upstream: 'default/stream:80' }] }],
      upstreams: [{ key: 'default/stream:80', endpoints: [{ address: '127.0.0.1', port: up.port }] }],
    }),
    { maxBodyBytes: 10 },
  );
  try {
    for (const [host, status] of [['a.test', 413], ['nowhere.test', 404]] as const) {
      // The client waits for 100 before sending its body; it sends the next request instead.
      const r = await untilClosed(limited.port, `POST /upload HTTP/1.1\r\nHost: ${host}\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\nGET /x HTTP/1.1\r\nHost: a.test\r\n\r\n`);
      assert.match(r.data, new RegExp(`^HTTP/1\\.1 ${status} `), host);
      assert.doesNotMatch(r.data, /100 Continue/);
      assert.match(r.data, /\r\nConnection: close\r\n/i);
      assert.ok(r.closed, 'the proxy closes the connection instead of reading the next request as the body');
    }
    // Without Expect, a body declared too large is not read either: 413 and close.
    const big = await untilClosed(limited.port, 'POST /upload HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1048576\r\n\r\nabc');
    assert.match(big.data, /^HTTP\/1\.1 413 /);
    assert.ok(big.closed);
    // A small body sent with a request that is refused (no Expect) is read and thrown away, and the
    // connection stays open for the next request.
    const kept = await untilClosed(limited.port, 'POST /upload HTTP/1.1\r\nHost: nowhere.test\r\nContent-Length: 5\r\n\r\nhelloGET /upload HTTP/1.1\r\nHost: a.test\r\n\r\n', 500);
    assert.match(kept.data, /^HTTP\/1\.1 404 /);
    assert.match(kept.data, /"size":0/);
    assert.equal(kept.closed, false);
    // A request that is forwarded gets its 100 and its answer, and the connection stays open.
    const socket = connect(limited.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.setEncoding('utf8');
    let data = '';
    socket.on('data', (c) => (data += c));
    socket.write('POST /upload HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    while (!data.includes('100 Continue')) await once(socket, 'data');
    assert.doesNotMatch(data, /HTTP\/1\.1 200/);
    socket.write('hello');
    while (!data.includes('"size":5')) await once(socket, 'data');
    socket.write('GET /upload HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\n\r\n');
    while (!data.includes('"size":0')) await once(socket, 'data');
    socket.destroy();
  } finally {
    await limited.close();
  }
});

test('keep-alive: many sequential requests over one client connection', async () => {
  const socket = connect(h.port, '127.0.0.1');
  await once(socket, 'connect');
  let data = '';
  socket.setEncoding('utf8');
  socket.on('data', (c) => (data += c));
  for (let i = 0; i < 20; i++) socket.write(`GET /x${i} HTTP/1.1\r\nHost: a\r\n\r\n`);
  while ((data.match(/HTTP\/1\.1 200/g) ?? []).length < 20) await once(socket, 'data');
  socket.destroy();
});

test('upstream read memory is reused only once the client took the bytes: a stalled client and fast clients at once get intact bodies', async () => {
  // The stalled client pipelines requests for bodies that arrive 4 KiB at a time and reads nothing
  // for a while: once its socket buffers are full, node holds each chunk until the kernel takes it
  // (and the later responses wait for their turn on the connection). Meanwhile fast clients get
  // 20 KiB bodies whose chunks are written at once, so their read memory is read into again
  // (http1-pool.ts, exchange.ts). Reusing memory node still holds would corrupt the stalled bodies.
  const slow = connect(h.port, '127.0.0.1');
  await once(slow, 'connect');
  const stalled = stalledPipeline(slow, 'a', [6 * 1024 * 1024, 256 * 1024, 1024 * 1024]);

  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const fast = Array.from({ length: 4 }, async (_, worker) => {
    for (let k = 0; k < 25; k++) {
      const n = 1000 + worker * 100 + k;
      const reply = await new Promise<Buffer>((resolve, reject) => {
        httpRequest({ host: '127.0.0.1', port: h.port, path: `/sized?n=${n}&size=20000`, agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks)));
          res.on('error', reject);
        }).on('error', reject).end();
      });
      assert.ok(reply.equals(sized(n, 20000)), `fast response ${n} is intact`);
    }
  });
  await Promise.all(fast);
  agent.destroy();
  await stalled.finish();
});
