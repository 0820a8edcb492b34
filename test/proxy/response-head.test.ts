// The response head built without writeHead (src/proxy/response-head.ts): over real sockets, the
// bytes a client gets are the ones node's own writeHead would have sent (Date aside, which is the
// clock's), for every case the fast path takes; every other case is declined so writeHead runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { RESPONSE_HEAD_SUPPORTED, joinHeadAndBody, storeResponseHead } from '../../src/proxy/response-head.ts';

const HEADERS = ['Content-Type', 'text/plain', 'X-Upstream', 'a\tb', 'Content-Length', '5'];

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function serve(handler: Handler, configure?: (server: Server) => void): Promise<{ port: number; close(): void }> {
  const server = createServer(handler);
  configure?.(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** Write `raw` on one connection and collect what comes back until `responses` bodies or the end. */
async function exchange(port: number, raw: string, until: (text: string) => boolean): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(raw);
  let text = '';
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (until(text)) resolve();
    });
    socket.on('close', () => resolve());
  });
  socket.destroy();
  return text.replace(/\r\nDate: [^\r]+\r\n/g, '\r\nDate: -\r\n');
}

const endsWithBody = (count: number) => (text: string): boolean => text.split('hello').length > count;

/** The same response written by writeHead (`/node`) and by storeResponseHead (`/built`). */
function sameResponse(status = 200, headers = HEADERS, body = 'hello'): Handler {
  return (req, res) => {
    if (req.url === '/built') assert.equal(storeResponseHead(res, status, headers), true, 'the fast path takes this response');
    else res.writeHead(status, headers);
    res.end(body);
  };
}

test('this node has the ServerResponse fields the fast path writes', () => {
  assert.equal(RESPONSE_HEAD_SUPPORTED, true);
});

for (const [name, configure] of [
  ['keep-alive with a Keep-Alive timeout', (s: Server) => void (s.keepAliveTimeout = 75_000)],
  ['keep-alive with maxRequestsPerSocket (max=)', (s: Server) => void ((s.keepAliveTimeout = 5_000), (s.maxRequestsPerSocket = 10))],
  ['keep-alive without a Keep-Alive timeout', (s: Server) => void (s.keepAliveTimeout = 0)],
] as const) {
  test(`the built head is byte for byte writeHead's: ${name}`, async () => {
    const server = await serve(sameResponse(), configure);
    try {
      const node = await exchange(server.port, 'GET /node HTTP/1.1\r\nHost: a\r\n\r\n', endsWithBody(1));
      const built = await exchange(server.port, 'GET /built HTTP/1.1\r\nHost: a\r\n\r\n', endsWithBody(1));
      assert.equal(built, node);
      assert.match(built, /^HTTP\/1\.1 200 OK\r\nContent-Type: text\/plain\r\nX-Upstream: a\tb\r\nContent-Length: 5\r\nDate: -\r\nConnection: keep-alive\r\n/);
    } finally {
      server.close();
    }
  });
}

test('a HEAD response and pipelined requests on one connection are as node sends them', async () => {
  const server = await serve(sameResponse());
  try {
    const headNode = await exchange(server.port, 'HEAD /node HTTP/1.1\r\nHost: a\r\n\r\n', (t) => t.endsWith('\r\n\r\n'));
    const headBuilt = await exchange(server.port, 'HEAD /built HTTP/1.1\r\nHost: a\r\n\r\n', (t) => t.endsWith('\r\n\r\n'));
    assert.equal(headBuilt, headNode);
    assert.ok(!headBuilt.includes('hello'));
    const three = 'GET /built HTTP/1.1\r\nHost: a\r\n\r\nGET /node HTTP/1.1\r\nHost: a\r\n\r\nGET /built HTTP/1.1\r\nHost: a\r\n\r\n';
    const text = await exchange(server.port, three, endsWithBody(3));
    const responses = text.split('hello').slice(0, 3);
    assert.equal(responses.length, 3);
    assert.equal(responses[0], responses[1]);
    assert.equal(responses[1], responses[2]);
  } finally {
    server.close();
  }
});

test('head and body joined into one Buffer are the same bytes; large bodies are not joined', async () => {
  const big = 'x'.repeat(5000);
  const server = await serve((req, res) => {
    const body = req.url === '/big' ? big : 'hello';
    const headers = ['Content-Length', String(body.length)];
    if (req.url === '/node') {
      res.writeHead(200, headers);
      res.end(body);
      return;
    }
    assert.equal(storeResponseHead(res, 200, headers), true);
    const joined = joinHeadAndBody(res, Buffer.from(body));
    if (req.url === '/big') assert.equal(joined, null);
    else assert.ok(joined !== null && joined.toString('latin1').startsWith('HTTP/1.1 200 OK\r\n'));
    res.end(joined ?? body);
  });
  try {
    const node = await exchange(server.port, 'GET /node HTTP/1.1\r\nHost: a\r\n\r\n', endsWithBody(1));
    const joined = await exchange(server.port, 'GET /joined HTTP/1.1\r\nHost: a\r\n\r\n', endsWithBody(1));
    assert.equal(joined, node);
    const large = await exchange(server.port, 'GET /big HTTP/1.1\r\nHost: a\r\n\r\n', (t) => t.endsWith(big));
    assert.match(large, /^HTTP\/1\.1 200 OK\r\nContent-Length: 5000\r\nDate: -\r\nConnection: keep-alive\r\n/);
    assert.ok(large.endsWith(`\r\n\r\n${big}`));
  } finally {
    server.close();
  }
});

for (const [name, raw, status, headers, before] of [
  ['an HTTP/1.0 client', 'GET / HTTP/1.0\r\n\r\n', 200, HEADERS, null],
  ['a client that asks to close', 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', 200, HEADERS, null],
  ['a client waiting for 100 Continue', 'POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n', 200, HEADERS, null],
  ['a header set with setHeader before', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 200, HEADERS, (res: ServerResponse) => res.setHeader('x-early', '1')],
  ['a 204', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 204, ['X-A', '1'], null],
  ['a 304', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 304, ['X-A', '1'], null],
  ['a response without Content-Length (node picks chunked)', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 200, ['X-A', '1'], null],
  ['a status without a standard reason phrase', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 299, HEADERS, null],
] as const) {
  test(`the fast path declines, changing nothing, and writeHead answers: ${name}`, async () => {
    let declined: boolean | null = null;
    const server = await serve((_req, res) => {
      before?.(res);
      declined = !storeResponseHead(res, status, headers);
      assert.equal(res.headersSent, false);
      res.writeHead(status, [...headers]);
      res.end(status === 204 || status === 304 ? undefined : 'hello');
    });
    try {
      const text = await exchange(server.port, raw, (t) => t.includes('hello') || (status !== 200 && status !== 299 && t.includes('\r\n\r\n')));
      assert.equal(declined, true);
      // (after a 100 Continue for the client that waits for one)
      assert.match(text, new RegExp(`(^|\r\n\r\n)HTTP/1\\.1 ${status} `));
    } finally {
      server.close();
    }
  });
}
