// Large bodies on the TLS listener (HTTP/1.1 and HTTP/2 by ALPN): accepted sockets have Nagle's
// algorithm off (node's HTTP/2 server, unlike node:https, leaves it on, and the last TLS record of
// a response then waited for the client's delayed ACK), and the upstream client's read memory,
// reused once the TLS layer has taken a chunk (exchange.ts), never corrupts a body that node still
// holds for a stalled client or an HTTP/2 stream.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as h2Connect } from 'node:http2';
import { Agent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import type { ProxyServer } from '../../src/proxy/server.ts';
import { CertificateStore } from '../../src/tls/certificate-store.ts';
import { createHttpsProxyServer } from '../../src/tls/https-server.ts';
import { silentLogger, sized, sizedBodies, stalledPipeline, startUpstream, type Upstream } from '../proxy/support.ts';
import { CA, Pipeline, backendObjects, ingress, leaf, tlsSecret } from './support.ts';

const HOST = 'shop.example.com';

describe('large bodies over TLS', () => {
  let upstream: Upstream;
  let https: ProxyServer;
  let port: number;

  before(async () => {
    upstream = await startUpstream('web', sizedBodies);
    const cert = leaf(HOST);
    const pipeline = new Pipeline([...backendObjects(upstream.port), tlsSecret('shop-tls', cert.cert, cert.key), ingress('shop', [HOST], [{ hosts: [HOST], secretName: 'shop-tls' }])]);
    const certificates = new CertificateStore({ routeRef: pipeline.routeRef, logger: silentLogger });
    https = createHttpsProxyServer({ routeRef: pipeline.routeRef, logger: silentLogger, certificates });
    port = (await https.listen(0, '127.0.0.1')).port;
  });

  after(async () => {
    await https.close(100);
    await upstream.close();
  });

  test("accepted sockets have Nagle's algorithm off", async () => {
    const accepted = once(https.server, 'connection') as Promise<[Socket]>;
    const client = tlsConnect({ host: '127.0.0.1', port, servername: HOST, ca: CA.cert, ALPNProtocols: ['http/1.1'] });
    const [socket] = await accepted;
    await once(client, 'secureConnect');
    client.destroy();
    // net.Socket records setNoDelay() under a private symbol; node:http's own servers set it too.
    const key = Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'kSetNoDelay');
    assert.ok(key !== undefined, 'this node keeps the no-delay state where the test looks for it');
    assert.equal((socket as unknown as Record<symbol, unknown>)[key], true);
  });

  test('a stalled HTTP/1.1 client, fast HTTP/1.1 clients and HTTP/2 streams at once all get intact bodies', async () => {
    // The stalled client pipelines requests for bodies that arrive 4 KiB at a time and reads
    // nothing for a while, so node holds its chunks (TLS writes queue behind each other).
    const slow = tlsConnect({ host: '127.0.0.1', port, servername: HOST, ca: CA.cert, ALPNProtocols: ['http/1.1'] });
    await once(slow, 'secureConnect');
    const stalled = stalledPipeline(slow, HOST, [4 * 1024 * 1024, 256 * 1024, 1024 * 1024]);

    // Fast HTTP/1.1 clients: their chunks are taken by the TLS layer at once, so the upstream
    // connections they use read into the same memory again.
    const agent = new Agent({ keepAlive: true, maxSockets: 4, ca: CA.cert, servername: HOST });
    const fast = Array.from({ length: 4 }, async (_, worker) => {
      for (let k = 0; k < 20; k++) {
        const n = 1000 + worker * 100 + k;
        const body = await new Promise<Buffer>((resolve, reject) => {
          httpsRequest({ host: '127.0.0.1', port, path: `/sized?n=${n}&size=20000`, headers: { host: HOST }, agent }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve(Buffer.concat(chunks)));
            res.on('error', reject);
          }).on('error', reject).end();
        });
        assert.ok(body.equals(sized(n, 20000)), `fast HTTP/1.1 response ${n} is intact`);
      }
    });

    // HTTP/2 streams: node's HTTP/2 layer keeps every chunk until it is framed and sent.
    const session = h2Connect(`https://${HOST}:${port}`, { ca: CA.cert, servername: HOST, host: '127.0.0.1', port } as Parameters<typeof h2Connect>[1]);
    const streams = Array.from({ length: 6 }, (_, i) => {
      const n = 2000 + i;
      return new Promise<void>((resolve, reject) => {
        const stream = session.request({ ':path': `/paced?n=${n}&size=${300 * 1024}`, ':authority': HOST });
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          try {
            assert.ok(Buffer.concat(chunks).equals(sized(n, 300 * 1024)), `HTTP/2 response ${n} is intact`);
            resolve();
          } catch (err) {
            reject(err);
          }
        });
        stream.on('error', reject);
      });
    });

    await Promise.all([...fast, ...streams]);
    agent.destroy();
    session.close();
    await stalled.finish();
  });
});
