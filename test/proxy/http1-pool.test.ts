// The lean HTTP/1.1 upstream client (src/proxy/http1-pool.ts) against raw TCP upstreams that write
// exact bytes: framing (Content-Length, chunked split at every byte, close-delimited, 1xx, HEAD,
// 204/304), hop-by-hop removal, keep-alive reuse and its limits, the stale-connection replay,
// timeouts, the connection cap and request bodies.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket, type AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { Http1Pool, type Http1Controller, type Http1Handler, type Http1RequestOptions } from '../../src/proxy/http1-pool.ts';

interface Outcome {
  status: number;
  statusMessage: string;
  headers: string[];
  contentLength: number;
  body: string;
  error: (Error & { code?: string }) | null;
}

/** A handler that records everything and resolves when the request ends either way. */
function collect(onHead?: (controller: Http1Controller) => void): { handler: Http1Handler; done: Promise<Outcome> } {
  const outcome: Outcome = { status: 0, statusMessage: '', headers: [], contentLength: -1, body: '', error: null };
  let resolve!: (o: Outcome) => void;
  const done = new Promise<Outcome>((r) => (resolve = r));
  const handler: Http1Handler = {
    onRequestStart() {},
    onResponseHead(controller, status, statusMessage, headers, contentLength) {
      Object.assign(outcome, { status, statusMessage, headers, contentLength });
      onHead?.(controller);
    },
    onResponseData(_c, chunk) {
      outcome.body += chunk.toString('latin1');
    },
    onResponseEnd() {
      resolve(outcome);
    },
    onResponseError(_c, err) {
      outcome.error = err;
      resolve(outcome);
    },
  };
  return { handler, done };
}

function get(path: string, extra: Partial<Http1RequestOptions> = {}): Http1RequestOptions {
  return { method: 'GET', path, headers: ['host', 'example.test'], body: null, headersTimeout: 2000, bodyTimeout: 2000, ...extra };
}

interface RawUpstream {
  port: number;
  /** Every connection accepted, in order. */
  sockets: Socket[];
  /** Request heads received, in order. */
  heads: string[];
  /** Bytes received after each head (request bodies), per connection. */
  received: string[];
  server: Server;
}

/** A TCP server; `respond(head, socket, n)` writes whatever bytes the test wants for request n. */
async function rawUpstream(respond: (head: string, socket: Socket, n: number) => void): Promise<RawUpstream> {
  const upstream: RawUpstream = { port: 0, sockets: [], heads: [], received: [], server: null as unknown as Server };
  upstream.server = createServer((socket) => {
    const index = upstream.sockets.push(socket) - 1;
    upstream.received[index] = '';
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      upstream.received[index] += chunk.toString('latin1');
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffer.slice(0, end);
        buffer = buffer.slice(end + 4);
        upstream.heads.push(head);
        respond(head, socket, upstream.heads.length - 1);
      }
    });
    socket.on('error', () => {});
  });
  upstream.server.listen(0, '127.0.0.1');
  await new Promise((r) => upstream.server.once('listening', r));
  upstream.port = (upstream.server.address() as AddressInfo).port;
  servers.push(upstream.server);
  return upstream;
}

const servers: Server[] = [];
const pools: Http1Pool[] = [];
after(async () => {
  for (const pool of pools) await pool.destroy();
  for (const server of servers) server.close();
});

function pool(port: number, options: Partial<{ connections: number; keepAliveTimeout: number; connectTimeout: number }> = {}): Http1Pool {
  const p = new Http1Pool(`http://127.0.0.1:${port}`, { connectTimeout: 1000, keepAliveTimeout: 4000, connections: 0, ...options });
  pools.push(p);
  return p;
}

async function send(p: Http1Pool, options: Http1RequestOptions = get('/')): Promise<Outcome> {
  const { handler, done } = collect();
  p.dispatch(options, handler);
  return done;
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello';

test('a Content-Length response: status, headers in their case, body; the connection is reused', async () => {
  const up = await rawUpstream((_head, socket) => socket.write(OK));
  const p = pool(up.port);
  const first = await send(p);
  assert.equal(first.error, null);
  assert.equal(first.status, 200);
  assert.equal(first.statusMessage, 'OK');
  assert.deepEqual(first.headers, ['Content-Type', 'text/plain', 'Content-Length', '5']);
  assert.equal(first.contentLength, 5);
  assert.equal(first.body, 'hello');
  const second = await send(p, get('/two'));
  assert.equal(second.body, 'hello');
  assert.equal(up.sockets.length, 1, 'keep-alive: one connection for both');
  assert.match(up.heads[0], /^GET \/ HTTP\/1\.1\r\nhost: example\.test$/);
  assert.match(up.heads[1], /^GET \/two HTTP\/1\.1\r\n/);
});

test('a request without Host gets the origin as Host', async () => {
  const up = await rawUpstream((_head, socket) => socket.write(OK));
  const p = pool(up.port);
  await send(p, get('/', { headers: ['x-a', '1'] }));
  assert.equal(up.heads[0], `GET / HTTP/1.1\r\nx-a: 1\r\nhost: 127.0.0.1:${up.port}`);
});

test('a chunked body written one byte at a time, with extensions and trailers, is decoded', async () => {
  const response = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n';
  const up = await rawUpstream((_head, socket) => {
    let i = 0;
    const next = (): void => {
      if (i < response.length) socket.write(response[i++], () => setImmediate(next));
    };
    next();
  });
  const p = pool(up.port);
  const r = await send(p);
  assert.equal(r.error, null);
  assert.equal(r.body, 'hello world');
  assert.deepEqual(r.headers, ['X-A', '1'], 'Transfer-Encoding is hop-by-hop: node frames the client response itself');
  assert.equal(r.contentLength, -1);
  assert.equal((await send(p)).body, 'hello world', 'the connection is reusable after the trailers');
  assert.equal(up.sockets.length, 1);
});

test('no Content-Length and no chunking: the body ends when the upstream closes, and the connection is not reused', async () => {
  const up = await rawUpstream((_head, socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ');
    setTimeout(() => socket.end('close'), 20);
  });
  const p = pool(up.port);
  const r = await send(p);
  assert.equal(r.error, null);
  assert.equal(r.body, 'until close');
  await send(p);
  assert.equal(up.sockets.length, 2);
});

test('1xx responses before the final one are skipped', async () => {
  const up = await rawUpstream((_head, socket) => socket.write('HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n' + OK));
  const r = await send(pool(up.port));
  assert.equal(r.status, 200);
  assert.equal(r.body, 'hello');
});

test('HEAD, 204 and 304 have no body whatever Content-Length says; the connection stays usable', async () => {
  const up = await rawUpstream((head, socket) => {
    if (head.startsWith('HEAD')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n');
    else if (head.startsWith('GET /204')) socket.write('HTTP/1.1 204 No Content\r\n\r\n');
    else socket.write('HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n');
  });
  const p = pool(up.port);
  const head = await send(p, get('/', { method: 'HEAD' }));
  assert.equal(head.status, 200);
  assert.equal(head.contentLength, 1234);
  assert.equal(head.body, '');
  assert.equal((await send(p, get('/204'))).status, 204);
  assert.equal((await send(p, get('/304'))).status, 304);
  assert.equal(up.sockets.length, 1);
});

test('hop-by-hop headers and the ones Connection lists are removed; Connection: close ends reuse', async () => {
  const up = await rawUpstream((_head, socket) =>
    socket.write('HTTP/1.1 200 OK\r\nConnection: close, X-Secret\r\nKeep-Alive: timeout=5\r\nX-Secret: s\r\nProxy-Connection: x\r\nUpgrade: h2c\r\nTrailer: x\r\nX-Kept: k\r\nContent-Length: 2\r\n\r\nok'),
  );
  const p = pool(up.port);
  const r = await send(p);
  assert.deepEqual(r.headers, ['X-Kept', 'k', 'Content-Length', '2']);
  await send(p);
  assert.equal(up.sockets.length, 2, 'Connection: close: a new connection for the next request');
});

test("the upstream's Date and Server are not passed (nginx's proxy_hide_header default)", async () => {
  const up = await rawUpstream((_head, socket) => socket.write('HTTP/1.1 200 OK\r\nServer: app/1.0\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nX-Kept: k\r\nContent-Length: 2\r\n\r\nok'));
  const r = await send(pool(up.port));
  assert.deepEqual(r.headers, ['X-Kept', 'k', 'Content-Length', '2']);
});

test('a call paused when its response completes leaves the connection reading for the next call', async () => {
  const up = await rawUpstream((_head, socket) => socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'));
  const p = pool(up.port);
  const { handler, done } = collect();
  const onData = handler.onResponseData;
  handler.onResponseData = (c, chunk) => {
    onData(c, chunk);
    c.pause(); // a slow client; its resume never comes: the response ends first
  };
  p.dispatch(get('/'), handler);
  assert.equal((await done).body, 'abc');
  const second = await send(p);
  assert.equal(second.error, null);
  assert.equal(second.body, 'abc');
  assert.equal(up.sockets.length, 1, 'the same connection');
});

test('bodies stay intact across many reads on one connection (reads never overwrite bytes handed on)', async () => {
  const big = Buffer.alloc(300 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  const up = await rawUpstream((_head, socket) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n`);
    for (let at = 0; at < big.length; at += 1000) socket.write(big.subarray(at, at + 1000));
  });
  const p = pool(up.port);
  for (let round = 0; round < 3; round++) {
    const chunks: Buffer[] = [];
    const { handler, done } = collect();
    handler.onResponseData = (_c, chunk) => void chunks.push(chunk); // kept, as node keeps unwritten chunks
    p.dispatch(get('/'), handler);
    const r = await done;
    assert.equal(r.error, null);
    assert.ok(Buffer.concat(chunks).equals(big), `round ${round}: the body arrived intact`);
  }
  assert.equal(up.sockets.length, 1);
});

test('a handler done with its chunks (onResponseData true) gets the same read memory again; one that keeps them never does', async () => {
  const up = await rawUpstream((head, socket) => {
    const body = Buffer.alloc(16 * 1024, head.includes('/b') ? 'b' : 'a');
    socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]));
  });
  const p = pool(up.port);
  const released: Array<{ memory: ArrayBufferLike; offset: number }> = [];
  for (let round = 0; round < 6; round++) {
    const { handler, done } = collect();
    const onData = handler.onResponseData;
    handler.onResponseData = (c, chunk) => {
      onData(c, chunk);
      released.push({ memory: chunk.buffer, offset: chunk.byteOffset });
      return true;
    };
    p.dispatch(get('/a'), handler);
    const r = await done;
    assert.equal(r.error, null);
    assert.equal(r.body, 'a'.repeat(16 * 1024));
  }
  const memories = new Set(released.map((c) => c.memory));
  assert.equal(memories.size, 1, `six responses of 16 KiB read into one slab (got ${memories.size})`);

  // Kept chunks: later responses never overwrite them.
  const kept: Buffer[] = [];
  for (const path of ['/a', '/b', '/a', '/b', '/a', '/b']) {
    const { handler, done } = collect();
    handler.onResponseData = (_c, chunk) => void kept.push(chunk);
    p.dispatch(get(path), handler);
    assert.equal((await done).error, null);
  }
  const texts = kept.map((c) => c.toString('latin1'));
  const joined = texts.join('');
  assert.equal(joined, ['a', 'b', 'a', 'b', 'a', 'b'].map((c) => c.repeat(16 * 1024)).join(''), 'kept chunks are intact');
  assert.equal(up.sockets.length, 1);
});

test('chunks a handler kept are reused only after it says released(); a connection switches between two slabs meanwhile', async () => {
  const up = await rawUpstream((head, socket) => {
    const fill = head.split(' ')[1].slice(1); // "/a" -> "a"
    // Two reads per response: the head and 10 KiB, then 10 KiB more a moment later.
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${20 * 1024}\r\n\r\n${fill.repeat(10 * 1024)}`);
    setTimeout(() => socket.write(fill.toUpperCase().repeat(10 * 1024)), 5);
  });
  const p = pool(up.port);
  const memories = new Set<ArrayBufferLike>();
  const kept: Array<{ chunk: Buffer; copy: Buffer }> = [];
  for (const fill of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) {
    const { handler, done } = collect();
    handler.onResponseData = (_c, chunk) => {
      kept.push({ chunk, copy: Buffer.from(chunk) });
      memories.add(chunk.buffer);
      return false; // kept, as node keeps a chunk it has buffered
    };
    let released = false;
    handler.released = () => released;
    p.dispatch(get(`/${fill}`), handler);
    assert.equal((await done).error, null);
    // Nothing was released while it streamed: every chunk is still what the upstream sent.
    for (const k of kept) assert.ok(k.chunk.equals(k.copy), 'held chunks are never overwritten');
    kept.length = 0;
    released = true; // the client socket took everything
  }
  assert.ok(memories.size <= 3, `eight 20 KiB responses read into at most three slabs (got ${memories.size})`);
  assert.equal(up.sockets.length, 1);
});

test('an HTTP/1.0 response is not reused unless it says keep-alive', async () => {
  const up = await rawUpstream((head, socket) => socket.write(head.includes('/ka') ? 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nk' : 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx'));
  const p = pool(up.port);
  await send(p, get('/ka'));
  await send(p, get('/ka'));
  assert.equal(up.sockets.length, 1);
  await send(p, get('/plain')); // still on the first connection, which then closes
  await send(p, get('/plain'));
  await send(p, get('/plain'));
  assert.equal(up.sockets.length, 3);
});

for (const [name, response] of [
  ['Content-Length together with Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'],
  ['a Content-Length that is not digits', 'HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc'],
  ['obsolete line folding', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  continued\r\nContent-Length: 0\r\n\r\n'],
  ['white space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n'],
  ['a bare CR in a header line', 'HTTP/1.1 200 OK\r\nX-A: 1\rX-B: 2\r\nContent-Length: 0\r\n\r\n'],
  ['a header line without a colon', 'HTTP/1.1 200 OK\r\nX-A\r\nContent-Length: 0\r\n\r\n'],
  ['a control character in a header value', 'HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 0\r\n\r\n'],
  ['a NUL in a header value', 'HTTP/1.1 200 OK\r\nX-A: a\x00\r\nContent-Length: 0\r\n\r\n'],
  ['a bare LF in a header value', 'HTTP/1.1 200 OK\r\nX-A: a\nX-B: b\r\nContent-Length: 0\r\n\r\n'],
  ['bare LF line ends (answered at once, not after the read timeout)', 'HTTP/1.1 200 OK\nContent-Length: 2\n\nlf'],
  ['a head ended by LF CRLF', 'HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\nlf'],
  ['a header name that is not a token', 'HTTP/1.1 200 OK\r\nX(A): 1\r\nContent-Length: 0\r\n\r\n'],
  ['a header name with white space inside', 'HTTP/1.1 200 OK\r\nX A: 1\r\nContent-Length: 0\r\n\r\n'],
  ['a bad status line', 'HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n'],
  ['a bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
  ['chunk data longer than its size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n'],
  ['an unasked-for 101', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n'],
] as const) {
  test(`a bad response fails that request with SWY_UPSTREAM_BAD_RESPONSE: ${name}`, async () => {
    const up = await rawUpstream((_head, socket) => socket.write(response));
    const r = await send(pool(up.port));
    assert.equal(r.error?.code, 'SWY_UPSTREAM_BAD_RESPONSE', r.error?.message);
  });
}

test('header values keep HTAB and obs-text bytes; token names with every tchar pass', async () => {
  const up = await rawUpstream((_head, socket) => socket.write(Buffer.from("HTTP/1.1 200 OK\r\nX-Tab: a\tb\r\nX-Obs: caf\xe9\r\n!#$%&'*+-.^_`|~09az: t\r\nContent-Length: 2\r\n\r\nok", 'latin1')));
  const r = await send(pool(up.port));
  assert.equal(r.error, null);
  assert.deepEqual(r.headers, ['X-Tab', 'a\tb', 'X-Obs', 'caf\xe9', "!#$%&'*+-.^_`|~09az", 't', 'Content-Length', '2']);
});

test('two equal Content-Lengths are one', async () => {
  const up = await rawUpstream((_head, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok'));
  const r = await send(pool(up.port));
  assert.deepEqual(r.headers, ['Content-Length', '2']);
  assert.equal(r.body, 'ok');
});

test('a head larger than 64 KiB is refused', async () => {
  const up = await rawUpstream((_head, socket) => socket.write('HTTP/1.1 200 OK\r\nX-Big: ' + 'a'.repeat(70_000) + '\r\n\r\n'));
  const r = await send(pool(up.port));
  assert.equal(r.error?.code, 'SWY_UPSTREAM_BAD_RESPONSE');
});

test('a reused connection the upstream closed while idle: an idempotent request goes again on a new one, a POST fails', async () => {
  // The upstream answers once per connection, then drops the connection on the next request
  // without a byte: the race a keep-alive client meets when the upstream times out an idle one.
  const up = await rawUpstream((_head, socket) => {
    const served = (socket as Socket & { served?: boolean }).served;
    if (served) socket.destroy();
    else {
      (socket as Socket & { served?: boolean }).served = true;
      socket.write(OK);
    }
  });
  const p = pool(up.port);
  assert.equal((await send(p)).body, 'hello');
  const again = await send(p);
  assert.equal(again.error, null);
  assert.equal(again.body, 'hello');
  assert.equal(up.sockets.length, 2);
  const post = await send(p, get('/', { method: 'POST' }));
  assert.ok(post.error !== null, 'a POST is not replayed');
  assert.match(String(post.error.code), /ECONNRESET|SWY_UPSTREAM_CLOSED|EPIPE/);
});

test('no response head in time: SWY_UPSTREAM_HEADERS_TIMEOUT; a stalled body: SWY_UPSTREAM_BODY_TIMEOUT', async () => {
  const up = await rawUpstream((head, socket) => {
    if (head.includes('/stall-body')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
  });
  const p = pool(up.port);
  const started = performance.now();
  const r = await send(p, get('/hang', { headersTimeout: 150 }));
  assert.equal(r.error?.code, 'SWY_UPSTREAM_HEADERS_TIMEOUT');
  assert.ok(performance.now() - started < 1000);
  const body = await send(p, get('/stall-body', { bodyTimeout: 150 }));
  assert.equal(body.status, 200);
  assert.equal(body.body, 'abc');
  assert.equal(body.error?.code, 'SWY_UPSTREAM_BODY_TIMEOUT');
});

test('refused and connect timeout', async () => {
  const closed = createServer();
  closed.listen(0, '127.0.0.1');
  await new Promise((r) => closed.once('listening', r));
  const port = (closed.address() as AddressInfo).port;
  closed.close();
  const r = await send(pool(port));
  assert.equal(r.error?.code, 'ECONNREFUSED');
  // A name lookup that never answers: the connection never starts, the connect timer decides.
  const stuck = new Http1Pool('http://never.test:81', { connectTimeout: 100, keepAliveTimeout: 1000, connections: 0, lookup: () => {} });
  pools.push(stuck);
  const started = performance.now();
  const t = await send(stuck);
  assert.equal(t.error?.code, 'SWY_UPSTREAM_CONNECT_TIMEOUT');
  assert.ok(performance.now() - started < 1000);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(stuck.connections, 0);
});

test('a connection cap queues requests on the open connections', async () => {
  const up = await rawUpstream((_head, socket) => setTimeout(() => socket.write(OK), 10));
  const p = pool(up.port, { connections: 2 });
  const results = await Promise.all(Array.from({ length: 6 }, () => send(p)));
  assert.ok(results.every((r) => r.body === 'hello'));
  assert.equal(up.sockets.length, 2);
});

test('request bodies: Content-Length passes as is, a body without length is sent chunked', async () => {
  const up = await rawUpstream((head, socket) => {
    const length = /content-length: (\d+)/i.exec(head);
    const wait = (): void => {
      const received = up.received[up.sockets.indexOf(socket)];
      const done = length ? received.endsWith('0123456789') : received.endsWith('0\r\n\r\n');
      if (done) socket.write(OK);
      else setTimeout(wait, 5);
    };
    wait();
  });
  const p = pool(up.port);
  const fixed = new PassThrough();
  const sent: number[] = [];
  const { handler, done } = collect();
  handler.onBodySent = (chunk) => void sent.push(chunk.length);
  p.dispatch(get('/', { method: 'POST', headers: ['host', 'h', 'content-length', '10'], body: fixed, headersTimeout: 0 }), handler);
  fixed.write('01234');
  setTimeout(() => fixed.end('56789'), 10);
  assert.equal((await done).body, 'hello');
  assert.deepEqual(sent, [5, 5]);
  assert.ok(up.received[0].endsWith('\r\n\r\n0123456789'));

  const streamed = new PassThrough();
  const second = collect();
  p.dispatch(get('/', { method: 'POST', headers: ['host', 'h'], body: streamed, headersTimeout: 0 }), second.handler);
  streamed.write('abc');
  setTimeout(() => streamed.end('defgh'), 10);
  assert.equal((await second.done).body, 'hello');
  assert.match(up.heads.findLast((h) => h.includes('POST /'))!, /transfer-encoding: chunked$/);
  assert.ok(up.received[0].endsWith('3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n'), JSON.stringify(up.received[0].slice(-40)));
});

test('abort from the handler closes that connection and reports the reason once', async () => {
  const up = await rawUpstream((_head, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial'));
  const p = pool(up.port);
  let errors = 0;
  const reason = new Error('client went away');
  const { handler, done } = collect((controller) => controller.abort(reason));
  const onError = handler.onResponseError;
  handler.onResponseError = (c, err) => {
    errors++;
    onError(c, err);
  };
  p.dispatch(get('/'), handler);
  const r = await done;
  assert.equal(r.error, reason);
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(errors, 1);
  assert.equal(p.connections, 0);
});

test('pause stops reading the upstream (backpressure) and resume continues', async () => {
  const up = await rawUpstream((_head, socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc');
    setTimeout(() => socket.write('def'), 50);
  });
  const p = pool(up.port);
  let controller: Http1Controller | null = null;
  const { handler, done } = collect((c) => {
    controller = c;
  });
  const onData = handler.onResponseData;
  let chunks = 0;
  handler.onResponseData = (c, chunk) => {
    chunks++;
    onData(c, chunk);
    if (chunks === 1) {
      c.pause();
      setTimeout(() => c.resume(), 120);
    }
  };
  const started = performance.now();
  p.dispatch(get('/'), handler);
  const r = await done;
  assert.ok(controller !== null);
  assert.equal(r.body, 'abcdef');
  assert.ok(performance.now() - started >= 110, 'the second chunk waited for resume');
});

test('an idle connection is closed after the keep-alive timeout (or the shorter Keep-Alive hint)', async () => {
  const up = await rawUpstream((_head, socket) => socket.write('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=100\r\nContent-Length: 0\r\n\r\n'));
  const p = pool(up.port, { keepAliveTimeout: 150 });
  await send(p);
  assert.equal(p.connections, 1);
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal(p.connections, 0);
});

test('close() waits for the request in flight, then closes every connection', async () => {
  const up = await rawUpstream((_head, socket) => setTimeout(() => socket.write(OK), 50));
  const p = pool(up.port);
  const pending = send(p);
  await new Promise((resolve) => setTimeout(resolve, 10));
  await p.close();
  assert.equal((await pending).body, 'hello');
  assert.equal(p.connections, 0);
  const refused = await send(p);
  assert.equal(refused.error?.code, 'SWY_UPSTREAM_CLOSED');
});

test('a request aborted in onRequestStart (its client left while it waited) leaves the connection clean for the next', async () => {
  const up = await rawUpstream((_head, socket) => socket.write(OK));
  const p = pool(up.port);
  assert.equal((await send(p)).body, 'hello');
  const reason = new Error('client gone');
  const { handler, done } = collect();
  handler.onRequestStart = (controller) => controller.abort(reason);
  p.dispatch(get('/gone'), handler);
  assert.equal((await done).error, reason);
  assert.equal((await send(p, get('/next'))).body, 'hello');
  assert.equal(up.sockets.length, 1, 'the same connection served the next request');
  assert.ok(!up.heads.some((h) => h.includes('/gone')), 'nothing of the aborted request was sent');
});
