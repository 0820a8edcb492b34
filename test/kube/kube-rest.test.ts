// kube-rest's request deadline: an API server that accepts the connection and never answers (or
// sends the headers and never the body) fails the request with KubeApiTimeoutError within its
// deadline; a caller's signal wins with its own reason; nothing is left unhandled.
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeApiServer, kubeconfigFor } from '../support/kube-api-server.ts';
import { loadKubeConfig } from '../../src/sources/kube/kube-config.ts';
import { KubeApiError, KubeApiTimeoutError, kubeRequest, objectPath } from '../../src/sources/kube/kube-rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'swy-kube-rest-'));
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => void unhandled.push(err);
before(() => process.on('unhandledRejection', onUnhandled));
after(() => {
  process.off('unhandledRejection', onUnhandled);
  rmSync(dir, { recursive: true, force: true });
});

function kubeConfigAt(url: string, name: string): KubeConfig {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'x',
    clusters: [{ name: 'x', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'x', user: {} }], contexts: [{ name: 'x', context: { cluster: 'x', user: 'x' } }],
  }));
  return loadKubeConfig({ kubeconfig: file }).kubeConfig;
}

/** A TCP server that accepts connections, reads (so it sees the client close) and never writes. */
async function blackhole(): Promise<{ url: string; sockets: Set<Socket>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createNetServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    sockets,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

const LEASE = objectPath('coordination.k8s.io', 'v1', 'leases', 'ingress', 'l');

async function rejection(promise: Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const t0 = performance.now();
  try {
    await promise;
  } catch (err) {
    return { err, ms: performance.now() - t0 };
  }
  throw new Error('the request did not fail');
}

test('no answer at all: KubeApiTimeoutError within the deadline, and the connection is given up', async () => {
  const hole = await blackhole();
  try {
    const kc = kubeConfigAt(hole.url, 'hole');
    const { err, ms } = await rejection(kubeRequest(kc, 'GET', LEASE, undefined, { timeoutMs: 150 }));
    assert.ok(err instanceof KubeApiTimeoutError, String(err));
    assert.equal(err.code, 'SWY_ERR_KUBE_API_TIMEOUT');
    assert.equal(err.reason, 'Timeout');
    assert.equal(err.timeoutMs, 150);
    assert.equal(err.message, `GET ${LEASE}: no answer from the API server within 150ms`);
    assert.equal((err as { statusCode?: unknown }).statusCode, undefined, 'not an HTTP status: callers do not mistake it for a 404');
    assert.ok(ms >= 140 && ms < 1000, `failed after ${ms.toFixed(0)}ms`);
    // The client closes the socket it gave up on (nothing piles up on a silent server).
    const closed = Promise.all([...hole.sockets].map((s) => once(s, 'close')));
    await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the abandoned connection is still open')), 2000).unref())]);
    assert.equal(hole.sockets.size, 0);
  } finally {
    await hole.close();
  }
});

test('headers but never the body: the deadline covers the body too', async () => {
  const held = new Set<ServerResponse>();
  const server = createHttpServer((req, res) => {
    held.add(res);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.write('{"kind":"Lea');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const kc = kubeConfigAt(`http://127.0.0.1:${(server.address() as { port: number }).port}`, 'slow-body');
    const { err, ms } = await rejection(kubeRequest(kc, 'PUT', LEASE, { kind: 'Lease' }, { timeoutMs: 150 }));
    assert.ok(err instanceof KubeApiTimeoutError, String(err));
    assert.match(err.message, /^PUT .*: no answer from the API server within 150ms$/);
    assert.ok(ms >= 140 && ms < 1000, `failed after ${ms.toFixed(0)}ms`);
  } finally {
    for (const res of held) res.socket?.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('a caller signal that aborts first rejects with its own reason; a deadline of 0 fails at once', async () => {
  const hole = await blackhole();
  try {
    const kc = kubeConfigAt(hole.url, 'hole2');
    const controller = new AbortController();
    const why = new Error('stopped');
    setTimeout(() => controller.abort(why), 50);
    const { err, ms } = await rejection(kubeRequest(kc, 'GET', LEASE, undefined, { timeoutMs: 5000, signal: controller.signal }));
    assert.equal(err, why);
    assert.ok(ms < 1000, `aborted after ${ms.toFixed(0)}ms`);

    const before = hole.sockets.size;
    const zero = await rejection(kubeRequest(kc, 'GET', LEASE, undefined, { timeoutMs: 0 }));
    assert.ok(zero.err instanceof KubeApiTimeoutError);
    assert.equal(hole.sockets.size, before, 'nothing was sent');
  } finally {
    await hole.close();
  }
});

test('a stalled path of the test API server times out; other paths and HTTP errors are unchanged', async () => {
  const server = new KubeApiServer();
  await server.start();
  try {
    writeFileSync(join(dir, 'api'), kubeconfigFor(server));
    const kc = loadKubeConfig({ kubeconfig: join(dir, 'api') }).kubeConfig;
    server.stall((e) => e.resource === 'leases');
    const stalled = await rejection(kubeRequest(kc, 'GET', LEASE, undefined, { timeoutMs: 100 }));
    assert.ok(stalled.err instanceof KubeApiTimeoutError);
    const missing = await rejection(kubeRequest(kc, 'GET', objectPath('', 'v1', 'services', 'shop', 'nope'), undefined, { timeoutMs: 2000 }));
    assert.ok(missing.err instanceof KubeApiError);
    assert.equal(missing.err.statusCode, 404);
    server.unstall();
    const created = await kubeRequest<{ metadata: { name: string } }>(kc, 'POST', objectPath('coordination.k8s.io', 'v1', 'leases', 'ingress', ''), {
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l', namespace: 'ingress' }, spec: {},
    }, { timeoutMs: 2000 });
    assert.equal(created.metadata.name, 'l');
  } finally {
    await server.close();
  }
});

test('no unhandled rejections from abandoned requests', async () => {
  // Give late socket errors of the tests above a turn to surface.
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(unhandled, []);
});
