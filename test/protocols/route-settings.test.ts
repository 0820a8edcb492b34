// Per-route behaviour annotations through the real proxy (issue 7): redirects, ssl-redirect with
// the ACME exception, app-root, rewrite-target, body size limits (declared and streamed), per-route
// read/send/connect timeouts. Real upstreams on 127.0.0.1, real sockets.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { RouteConfig, RouteSettings } from '../../src/model/route-config.ts';
import { routeConfig } from '../compile/config-builder.ts';
import { send, startProxy, startUpstream, type Harness, type Upstream } from '../proxy/support.ts';

/** A config with one host and the given paths, each with its own settings. */
function configWith(port: number, paths: Record<string, RouteSettings | undefined>, type: 'Prefix' | 'Exact' = 'Prefix'): RouteConfig {
  const base = routeConfig({
    hosts: [{ host: 'app.example.com', routes: Object.keys(paths).map((path) => ({ path, type, upstream: 'default/web:80', name: `route${path}` })) }],
    upstreams: [{ key: 'default/web:80', endpoints: [{ address: '127.0.0.1', port }] }],
  });
  return {
    ...base,
    virtualHosts: base.virtualHosts.map((vh) => ({
      ...vh,
      routes: vh.routes.map((r) => (paths[r.path] === undefined ? r : { ...r, settings: paths[r.path] })),
    })),
  };
}

/** POST a body as chunks (no Content-Length), optionally stalling before the last chunk. */
function postChunked(port: number, path: string, chunks: Buffer[], stallMs = 0): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', headers: { host: 'app.example.com' }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (err) => reject(err));
    let i = 0;
    const next = (): void => {
      if (i < chunks.length - 1) {
        req.write(chunks[i++], next);
      } else if (stallMs > 0) {
        setTimeout(() => req.end(chunks[i]), stallMs).unref();
      } else {
        req.end(chunks[i]);
      }
    };
    next();
  });
}

describe('route settings through the proxy', () => {
  let upstream: Upstream;
  let slow: Upstream;
  let h: Harness;
  let hs: Harness;

  before(async () => {
    upstream = await startUpstream('web', (req, res, name) => {
      let size = 0;
      req.on('data', (c: Buffer) => (size += c.length));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ upstream: name, url: req.url, size }));
      });
    });
    slow = await startUpstream('slow', (req, res) => {
      req.resume();
      // Longer than undici's coarse header timer (about 1 s resolution) needs to fire at 100 ms.
      setTimeout(() => res.end('late'), 1500).unref();
    });
    h = await startProxy(
      configWith(upstream.port, {
        '/': undefined,
        '/moved': { redirect: { code: 308, location: 'https://new.example.com/' } },
        '/temp': { redirect: { code: 302, location: 'https://maintenance.example.com/' } },
        '/secure': { sslRedirect: true },
        '/rooted': { appRoot: '/app' },
        '/api': { rewriteTarget: '/' },
        '/v1': { rewriteTarget: '/api/v1/' },
        '/small': { maxBodyBytes: 10 },
        '/unlimited': { maxBodyBytes: 0 },
        '/connect': { connectTimeoutMs: 1000 },
        '/office': { allowSourceRanges: ['10.0.0.0/8', '127.0.0.0/8'] },
        '/elsewhere': { allowSourceRanges: ['10.0.0.0/8', '2001:db8::/32'] },
        '/denied': { allowSourceRanges: ['127.0.0.0/8'], denySourceRanges: ['127.0.0.1/32'] },
        '/deny-other': { denySourceRanges: ['192.168.0.0/16'] },
        '/broken': { allowSourceRanges: [] },
        '/moved-office': { allowSourceRanges: ['10.0.0.0/8'], redirect: { code: 301, location: 'https://new.example.com/' } },
        '/vhost': { upstreamVhost: 'internal.example:8080', forwardedPrefix: '/vhost', rewriteTarget: '/' },
      }),
      { maxBodyBytes: 100 },
    );
    hs = await startProxy(
      configWith(slow.port, {
        '/': undefined,
        '/quick': { readTimeoutMs: 100 },
        '/send': { sendTimeoutMs: 150 },
      }),
    );
  });

  after(async () => {
    await h.close();
    await hs.close();
    await upstream.close();
    await slow.close();
  });

  test('permanent-redirect and temporal-redirect answer with their code and Location, nothing forwarded', async () => {
    const before = upstream.seen.length;
    const moved = await send(h.port, { host: 'app.example.com', path: '/moved/x?y=1' });
    assert.equal(moved.status, 308);
    assert.equal(moved.headers.location, 'https://new.example.com/');
    assert.match(moved.body, /Redirecting to https:\/\/new\.example\.com\//);
    const temp = await send(h.port, { host: 'app.example.com', path: '/temp' });
    assert.equal(temp.status, 302);
    assert.equal(temp.headers.location, 'https://maintenance.example.com/');
    assert.equal(upstream.seen.length, before);
  });

  test('ssl-redirect: 308 to https with host (port dropped), path and query; ACME challenges are forwarded', async () => {
    const r = await send(h.port, { host: 'App.Example.com:8080', path: '/secure/a?b=c' });
    assert.equal(r.status, 308);
    assert.equal(r.headers.location, 'https://app.example.com/secure/a?b=c');
    const acme = await send(h.port, { host: 'app.example.com', path: '/secure/.well-known/acme-challenge/token' });
    assert.equal(acme.status, 308, 'the exception is for /.well-known/acme-challenge/ at the root only');
    // A route at "/" with sslRedirect: the challenge path goes through.
    const root = await startProxy(configWith(upstream.port, { '/': { sslRedirect: true } }));
    try {
      const challenge = await send(root.port, { host: 'app.example.com', path: '/.well-known/acme-challenge/token' });
      assert.equal(challenge.status, 200);
      assert.equal(challenge.json<{ url: string }>().url, '/.well-known/acme-challenge/token');
      assert.equal((await send(root.port, { host: 'app.example.com', path: '/' })).status, 308);
    } finally {
      await root.close();
    }
  });

  test('app-root redirects exactly "/" (302); other paths are forwarded', async () => {
    const root = await startProxy(configWith(upstream.port, { '/': { appRoot: '/app' } }));
    try {
      const r = await send(root.port, { host: 'app.example.com', path: '/' });
      assert.equal(r.status, 302);
      assert.equal(r.headers.location, '/app');
      const other = await send(root.port, { host: 'app.example.com', path: '/app/page' });
      assert.equal(other.status, 200);
    } finally {
      await root.close();
    }
  });

  test('rewrite-target replaces the whole path when the route path matches (ingress-nginx >= 0.22), keeps the query', async () => {
    // Captures and regex paths from real Ingresses: test/protocols/regex-paths.test.ts.
    const cases: [string, string][] = [
      ['/api/v1/items?q=1', '/?q=1'],
      ['/api', '/'],
      ['/v1/users', '/api/v1/'],
      ['/v1', '/api/v1/'],
    ];
    for (const [path, expected] of cases) {
      const r = await send(h.port, { host: 'app.example.com', path });
      assert.equal(r.status, 200, path);
      assert.equal(r.json<{ url: string }>().url, expected, path);
    }
  });

  test('source ranges (allowlist/denylist-source-range): the client address decides, 403 before anything is sent upstream', async () => {
    const before = upstream.seen.length;
    assert.equal((await send(h.port, { host: 'app.example.com', path: '/office/x' })).status, 200);
    for (const path of ['/elsewhere', '/denied', '/broken']) {
      const r = await send(h.port, { host: 'app.example.com', path, method: 'POST', body: 'data' });
      assert.equal(r.status, 403, path);
      assert.equal(r.body, 'Forbidden\n');
      assert.match(String(r.headers['content-type']), /^text\/plain/);
    }
    assert.equal(upstream.seen.length, before + 1);
    assert.equal((await send(h.port, { host: 'app.example.com', path: '/deny-other' })).status, 200);
    // Redirects come first, as in nginx (rewrite phase before the access phase).
    assert.equal((await send(h.port, { host: 'app.example.com', path: '/moved-office' })).status, 301);
  });

  test('upstream-vhost replaces the Host sent upstream (X-Forwarded-Host keeps the client\'s); x-forwarded-prefix is sent; a client\'s own X-Forwarded-Prefix is dropped', async () => {
    const r = await send(h.port, { host: 'app.example.com', path: '/vhost/a?b', headers: { 'x-forwarded-prefix': '/spoofed' } });
    assert.equal(r.status, 200);
    assert.equal(r.json<{ url: string }>().url, '/?b');
    const seen = upstream.seen.at(-1)?.headers;
    assert.equal(seen?.host, 'internal.example:8080');
    assert.equal(seen?.['x-forwarded-host'], 'app.example.com');
    assert.equal(seen?.['x-forwarded-prefix'], '/vhost');
    await send(h.port, { host: 'app.example.com', path: '/other', headers: { 'x-forwarded-prefix': '/spoofed' } });
    assert.equal(upstream.seen.at(-1)?.headers['x-forwarded-prefix'], undefined);
    assert.equal(upstream.seen.at(-1)?.headers.host, 'app.example.com');
  });

  test('source ranges on a dual-stack listener: IPv4-mapped peers match IPv4 ranges, IPv6 peers IPv6 ranges', async (t) => {
    let dual: Harness;
    try {
      dual = await startProxy(
        configWith(upstream.port, {
          '/v4': { allowSourceRanges: ['127.0.0.0/8'] },
          '/v6': { allowSourceRanges: ['::1/128'] },
          '/v6-denied': { denySourceRanges: ['::/0'] },
        }),
        {},
        '::',
      );
    } catch (err) {
      t.skip(`no IPv6 listener here: ${(err as Error).message}`);
      return;
    }
    const status = (host: string, path: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = httpRequest({ host, port: dual.port, path, headers: { host: 'app.example.com' }, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    try {
      assert.equal(await status('127.0.0.1', '/v4'), 200); // the peer is ::ffff:127.0.0.1
      assert.equal(await status('127.0.0.1', '/v6'), 403);
      assert.equal(await status('127.0.0.1', '/v6-denied'), 200);
      assert.equal(await status('::1', '/v6'), 200);
      assert.equal(await status('::1', '/v4'), 403);
      assert.equal(await status('::1', '/v6-denied'), 403);
    } finally {
      await dual.close();
    }
  });

  test('proxy-body-size: Content-Length over the limit -> 413 before anything is sent upstream', async () => {
    const before = upstream.seen.length;
    const r = await send(h.port, { host: 'app.example.com', path: '/small', method: 'POST', body: 'x'.repeat(11) });
    assert.equal(r.status, 413);
    assert.match(r.body, /Payload Too Large/);
    assert.equal(upstream.seen.length, before);
    const ok = await send(h.port, { host: 'app.example.com', path: '/small', method: 'POST', body: 'x'.repeat(10) });
    assert.equal(ok.status, 200);
    assert.equal(ok.json<{ size: number }>().size, 10);
  });

  test('proxy-body-size: the server default applies to routes without the annotation; "0" is unlimited', async () => {
    assert.equal((await send(h.port, { host: 'app.example.com', path: '/', method: 'POST', body: 'x'.repeat(101) })).status, 413);
    assert.equal((await send(h.port, { host: 'app.example.com', path: '/', method: 'POST', body: 'x'.repeat(100) })).status, 200);
    const big = await send(h.port, { host: 'app.example.com', path: '/unlimited', method: 'POST', body: 'x'.repeat(100_000) });
    assert.equal(big.status, 200);
    assert.equal(big.json<{ size: number }>().size, 100_000);
  });

  test('proxy-body-size: a chunked body growing past the limit -> 413', async () => {
    const chunk = Buffer.alloc(40, 'x');
    const r = await postChunked(h.port, '/', [chunk, chunk, chunk, chunk]);
    assert.equal(r.status, 413);
    const ok = await postChunked(h.port, '/', [chunk, chunk]);
    assert.equal(ok.status, 200);
  });

  test('proxy-read-timeout per route: 504 on the route that sets it, the others wait', async () => {
    const quick = await send(hs.port, { host: 'app.example.com', path: '/quick' });
    assert.equal(quick.status, 504);
    assert.match(quick.body, /Gateway Timeout/);
    const normal = await send(hs.port, { host: 'app.example.com', path: '/' });
    assert.equal(normal.status, 200);
    assert.equal(normal.body, 'late');
  });

  test('proxy-send-timeout per route: a stalled request body -> 504', async () => {
    const r = await postChunked(hs.port, '/send', [Buffer.from('a'), Buffer.from('b')], 600);
    assert.equal(r.status, 504);
    assert.match(r.body, /sending the request/);
  });

  test('proxy-connect-timeout per route: served through its own pool', async () => {
    const r = await send(h.port, { host: 'app.example.com', path: '/connect' });
    assert.equal(r.status, 200);
    assert.equal(h.proxy.handler.timeoutPools.get(1000).size, 1);
  });
});
