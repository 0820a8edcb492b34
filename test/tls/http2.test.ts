// HTTP/2 clients on the TLS listener (ALPN h2, HTTP/1.1 fallback on the same port), proxied to an
// HTTP/1.1 upstream: headers (Host from :authority, joined cookies, X-Forwarded-Proto), request
// bodies with and without Content-Length, a large streamed response, concurrent streams on one
// connection, proxy errors, WebSocket over the TLS port (HTTP/1.1).
import assert from 'node:assert/strict';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, test } from 'node:test';
import type { ProxyServer } from '../../src/proxy/server.ts';
import { CertificateStore } from '../../src/tls/certificate-store.ts';
import { createHttpsProxyServer } from '../../src/tls/https-server.ts';
import { silentLogger, startUpstream, type Upstream } from '../proxy/support.ts';
import { startWsUpstream } from '../protocols/ws-support.ts';
import { CA, Pipeline, backendObjects, commonName, httpsGet, ingress, leaf, presented, tlsSecret } from './support.ts';

interface H2Reply {
  status: number;
  headers: Record<string, unknown>;
  body: Buffer;
}

function h2request(session: ClientHttp2Session, headers: Record<string, string>, body?: Buffer | Buffer[]): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let status = 0;
    let responseHeaders: Record<string, unknown> = {};
    stream.on('response', (h) => {
      status = Number(h[':status']);
      responseHeaders = h;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    if (Array.isArray(body)) {
      for (const b of body) stream.write(b);
      stream.end();
    } else if (body !== undefined) {
      stream.end(body);
    }
  });
}

describe('HTTP/2 on the TLS listener', () => {
  let upstream: Upstream;
  let https: ProxyServer;
  let port: number;
  let session: ClientHttp2Session;
  const cert = leaf('h2.example.com');

  before(async () => {
    upstream = await startUpstream('web', (req, res, name) => {
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-upstream': name });
        for (let i = 0; i < 64; i++) res.write(Buffer.alloc(64 * 1024, i));
        res.end();
        req.resume();
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name, connection: 'keep-alive', 'keep-alive': 'timeout=5' });
        res.end(JSON.stringify({ upstream: name, method: req.method, url: req.url, httpVersion: req.httpVersion, headers: req.headers, size: body.length, text: body.toString() }));
      });
    });
    const pipeline = new Pipeline([
      ...backendObjects(upstream.port),
      tlsSecret('h2-tls', cert.cert, cert.key),
      ingress('h2', ['h2.example.com'], [{ hosts: ['h2.example.com'], secretName: 'h2-tls' }]),
    ]);
    const certificates = new CertificateStore({ routeRef: pipeline.routeRef, logger: silentLogger });
    https = createHttpsProxyServer({ routeRef: pipeline.routeRef, logger: silentLogger, certificates });
    port = (await https.listen(0, '127.0.0.1')).port;
    session = h2connect(`https://h2.example.com:${port}`, { ca: CA.cert, servername: 'h2.example.com', host: '127.0.0.1', port } as never);
    await new Promise<void>((resolve, reject) => {
      session.once('connect', () => resolve());
      session.once('error', reject);
    });
  });

  after(async () => {
    session.close();
    await https.close(200);
    await upstream.close();
  });

  test('ALPN: h2 when offered, http/1.1 otherwise, same certificate', async () => {
    assert.equal(session.alpnProtocol, 'h2');
    const h1 = await presented(port, 'h2.example.com');
    assert.equal(h1.protocol, 'http/1.1');
    assert.equal(commonName(h1.cert), 'h2.example.com');
    const r = await httpsGet(port, 'h2.example.com', '/h1');
    assert.equal(r.status, 200);
  });

  test('GET over h2 reaches the HTTP/1.1 upstream with Host, joined cookies and X-Forwarded-Proto', async () => {
    const r = await h2request(session, { ':method': 'GET', ':path': '/hello?x=1', ':authority': 'h2.example.com', cookie: 'a=1', 'x-test': 'yes' });
    // node's client sends each "cookie" separately only when given as an array; send two streams' worth below.
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-upstream'], 'web');
    assert.equal(r.headers.connection, undefined);
    assert.equal(r.headers['keep-alive'], undefined);
    const seen = JSON.parse(r.body.toString()) as { url: string; httpVersion: string; headers: Record<string, string> };
    assert.equal(seen.url, '/hello?x=1');
    assert.equal(seen.httpVersion, '1.1');
    assert.equal(seen.headers.host, 'h2.example.com');
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-test'], 'yes');
    assert.equal(seen.headers.cookie, 'a=1');
    for (const name of Object.keys(seen.headers)) assert.ok(!name.startsWith(':'), name);

    const split = await h2request(session, { ':method': 'GET', ':path': '/c', ':authority': 'h2.example.com', cookie: ['a=1', 'b=2'] as unknown as string });
    assert.equal((JSON.parse(split.body.toString()) as { headers: Record<string, string> }).headers.cookie, 'a=1; b=2');
  });

  test('request bodies: with Content-Length and streamed without one', async () => {
    const withLength = await h2request(session, { ':method': 'POST', ':path': '/upload', ':authority': 'h2.example.com', 'content-length': '5' }, Buffer.from('hello'));
    assert.equal(withLength.status, 200);
    assert.equal((JSON.parse(withLength.body.toString()) as { text: string }).text, 'hello');
    const chunks = [Buffer.alloc(100_000, 'a'), Buffer.alloc(100_000, 'b'), Buffer.alloc(50_000, 'c')];
    const streamed = await h2request(session, { ':method': 'POST', ':path': '/upload', ':authority': 'h2.example.com' }, chunks);
    assert.equal(streamed.status, 200);
    assert.equal((JSON.parse(streamed.body.toString()) as { size: number }).size, 250_000);
  });

  test('a 4 MiB streamed response and 20 concurrent streams on one connection', async () => {
    const big = await h2request(session, { ':method': 'GET', ':path': '/big', ':authority': 'h2.example.com' });
    assert.equal(big.status, 200);
    assert.equal(big.body.length, 64 * 64 * 1024);
    assert.equal(big.body[64 * 1024 * 10], 10);
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => h2request(session, { ':method': 'GET', ':path': `/n/${i}`, ':authority': 'h2.example.com' })),
    );
    replies.forEach((r, i) => {
      assert.equal(r.status, 200);
      assert.equal((JSON.parse(r.body.toString()) as { url: string }).url, `/n/${i}`);
    });
  });

  test('proxy errors over h2: 404 with a short body', async () => {
    const r = await h2request(session, { ':method': 'GET', ':path': '/', ':authority': 'nothing.example.com' });
    assert.equal(r.status, 404);
    assert.match(r.body.toString(), /Not Found/);
  });

  test('a Host header that differs from :authority is a 400; an equal one is fine', async () => {
    const differs = await h2request(session, { ':method': 'GET', ':path': '/hello', ':authority': 'h2.example.com', host: 'other.example.com' });
    assert.equal(differs.status, 400);
    assert.equal(differs.body.toString(), 'Bad Request: missing, repeated or invalid Host header\n');
    const same = await h2request(session, { ':method': 'GET', ':path': '/hello', ':authority': 'h2.example.com', host: 'H2.example.com' });
    assert.equal(same.status, 200);
  });

  test('an HTTP/2 CONNECT stream gets a proper 400 (not an HTTP/1.1 text in a 200 body)', async () => {
    const r = await h2request(session, { ':method': 'CONNECT', ':authority': 'example.com:443' });
    assert.equal(r.status, 400);
    assert.equal(r.body.toString(), 'Bad Request\n');
  });

  test('WebSocket upgrade over the TLS port (HTTP/1.1): 101 and echo, X-Forwarded-Proto https', async () => {
    const ws = await startWsUpstream('ws');
    const pipeline = new Pipeline([...backendObjects(ws.port), tlsSecret('h2-tls', cert.cert, cert.key), ingress('h2', ['h2.example.com'], [{ hosts: ['h2.example.com'], secretName: 'h2-tls' }])]);
    const server = createHttpsProxyServer({ routeRef: pipeline.routeRef, logger: silentLogger, certificates: new CertificateStore({ routeRef: pipeline.routeRef, logger: silentLogger }) });
    const wsPort = (await server.listen(0, '127.0.0.1')).port;
    try {
      const greeting = await new Promise<string>((resolve, reject) => {
        const req = httpsRequest({
          host: '127.0.0.1', port: wsPort, path: '/live', servername: 'h2.example.com', ca: CA.cert, agent: false,
          headers: { host: 'h2.example.com', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
        });
        req.on('upgrade', (res, socket) => {
          assert.equal(res.statusCode, 101);
          socket.once('data', (d: Buffer) => {
            resolve(d.subarray(2).toString());
            socket.destroy();
          });
        });
        req.on('response', (res) => reject(new Error(`status ${res.statusCode}`)));
        req.on('error', reject);
        req.end();
      });
      assert.equal(greeting, 'hello from ws /live');
      assert.equal(ws.upgrades[0]['x-forwarded-proto'], 'https');
    } finally {
      await server.close(200);
      await ws.close();
    }
  });
});
