// Test support: real upstream servers that answer with their own name, a proxy on port 0, and a
// small HTTP client over node:http (so raw status/headers/body can be asserted).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request as httpRequest, Agent, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { compile } from '../../src/compile/compile.ts';
import type { RouteTable } from '../../src/compile/route-table.ts';
import type { RouteConfig } from '../../src/model/route-config.ts';
import { RouteRef } from '../../src/runtime/route-ref.ts';
import { createProxyServer, type ProxyServer, type ProxyServerOptions } from '../../src/proxy/server.ts';

export interface Upstream {
  readonly name: string;
  readonly server: Server;
  readonly port: number;
  /** Requests seen: method, url, headers. */
  readonly seen: { method: string; url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, name: string) => void;

/** Default upstream behaviour: 200 with a JSON body naming itself and echoing the request. */
export const echo: UpstreamHandler = (req, res, name) => {
  const body = JSON.stringify({ upstream: name, method: req.method, url: req.url, headers: req.headers });
  res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name });
  res.end(body);
  req.resume();
};

export async function startUpstream(name: string, handler: UpstreamHandler = echo): Promise<Upstream> {
  const seen: Upstream['seen'] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    handler(req, res, name);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    name,
    server,
    port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const silentLogger = pino({ level: 'silent' });

export interface Harness {
  readonly proxy: ProxyServer;
  readonly routeRef: RouteRef<RouteTable>;
  readonly port: number;
  swap(config: RouteConfig): RouteTable;
  close(): Promise<void>;
}

export async function startProxy(config: RouteConfig, options: Partial<ProxyServerOptions> = {}, listenHost = '127.0.0.1'): Promise<Harness> {
  const routeRef = new RouteRef<RouteTable>(compile(config, { random: () => 0 }));
  const proxy = createProxyServer({ routeRef, logger: silentLogger, ...options });
  const address = await proxy.listen(0, listenHost);
  return {
    proxy,
    routeRef,
    port: address.port,
    swap(next: RouteConfig): RouteTable {
      const table = compile(next, { previous: routeRef.current });
      routeRef.swap(table);
      return table;
    },
    close: () => proxy.close(1000),
  };
}

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  json<T = { upstream: string; method: string; url: string; headers: IncomingHttpHeaders }>(): T;
}

const noKeepAlive = new Agent({ keepAlive: false });

/** One request over a fresh connection (or the given agent). */
export function send(
  port: number,
  options: { path?: string; host?: string; method?: string; headers?: Record<string, string | string[]>; body?: string | Buffer; agent?: Agent } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = { ...options.headers };
    if (options.host !== undefined) headers.host = options.host;
    const req = httpRequest(
      { host: '127.0.0.1', port, path: options.path ?? '/', method: options.method ?? 'GET', headers, agent: options.agent ?? noKeepAlive },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The body of /sized?n=&size= and /paced?n=&size=: every byte depends on n and its position. */
export function sized(n: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let j = 0; j < size; j++) b[j] = (n * 131 + j * 7 + (j >> 8)) & 0xff;
  return b;
}

/**
 * /sized: that body with a Content-Length, in one write (a mixed-up byte shows as a wrong body).
 * /paced: the same, written 4 KiB at a time, one piece per turn of the event loop, so the proxy
 * reads it in small chunks, which node buffers without asking for a pause.
 */
export const sizedBodies: UpstreamHandler = (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const body = sized(Number(url.searchParams.get('n')), Number(url.searchParams.get('size')));
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
  req.resume();
  if (url.pathname !== '/paced') return void res.end(body);
  let at = 0;
  const next = (): void => {
    if (at >= body.length) return void res.end();
    const piece = body.subarray(at, at + 4096);
    at += piece.length;
    if (res.write(piece)) setImmediate(next);
    else res.once('drain', next);
  };
  next();
};

/**
 * A raw client (plain or TLS, already connected) that pipelines one /paced request per size and
 * reads nothing until finish(): node then holds the proxy's chunks for it. finish() waits a little
 * longer, reads every response and asserts that each body is intact.
 */
export function stalledPipeline(socket: import('node:stream').Duplex, host: string, sizes: readonly number[]): { finish(): Promise<void> } {
  const received: Buffer[] = [];
  socket.on('data', (c: Buffer) => received.push(c));
  socket.pause();
  sizes.forEach((size, i) => socket.write(`GET /paced?n=${i}&size=${size} HTTP/1.1\r\nHost: ${host}\r\n\r\n`));
  return {
    async finish(): Promise<void> {
      await new Promise((resolve) => setTimeout(resolve, 300)); // still reading nothing
      socket.resume();
      const bodies: Buffer[] = [];
      let buffer = Buffer.alloc(0);
      while (bodies.length < sizes.length) {
        buffer = Buffer.concat([buffer, ...received.splice(0)]);
        for (;;) {
          const end = buffer.indexOf('\r\n\r\n');
          if (end < 0) break;
          const length = Number(/content-length: (\d+)/i.exec(buffer.subarray(0, end).toString('latin1'))?.[1]);
          if (buffer.length < end + 4 + length) break;
          bodies.push(buffer.subarray(end + 4, end + 4 + length));
          buffer = buffer.subarray(end + 4 + length);
        }
        if (bodies.length < sizes.length) await once(socket, 'data');
      }
      socket.destroy();
      sizes.forEach((size, i) => assert.ok(bodies[i].equals(sized(i, size)), `stalled response ${i} is intact`));
    },
  };
}
