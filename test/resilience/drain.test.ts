// Graceful drain on SIGTERM, with the real process spawned (bin/switchyard.js): /readyz flips to 503
// at once, new connections are still accepted during the grace period (their responses say
// Connection: close), then the listener stops accepting, an in-flight slow request completes, exit 0.
// Plus the Drain itself on a plain node:http server: upgraded connections are waited for and cut.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Drain } from '../../src/runtime/drain.ts';
import { freePort } from '../e2e/helpers.ts';
import { oneAppManifest } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/switchyard.js', import.meta.url));

interface Reply {
  status: number;
  body: string;
  headers: IncomingMessage['headers'];
}

function get(port: number, path: string, host = 'drain.test'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The spawned controller's JSON log lines, with a way to wait for one. */
class LogLines {
  readonly lines: Record<string, unknown>[] = [];
  #buffer = '';
  #waiters: { match: (l: Record<string, unknown>) => boolean; resolve: () => void }[] = [];

  feed(chunk: Buffer): void {
    this.#buffer += chunk.toString('utf8');
    let nl: number;
    while ((nl = this.#buffer.indexOf('\n')) !== -1) {
      const text = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + 1);
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        continue;
      }
      this.lines.push(line);
      this.#waiters = this.#waiters.filter((w) => (w.match(line) ? (w.resolve(), false) : true));
    }
  }

  waitFor(match: (l: Record<string, unknown>) => boolean): Promise<void> {
    if (this.lines.some(match)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }
}

async function manifests(upstreamPort: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-drain-'));
  await writeFile(
    join(dir, 'app.yaml'),
    oneAppManifest(upstreamPort, 'drain', 'drain.test'),
  );
  return dir;
}

/** Poll (readiness is a polled endpoint by nature) until `check` passes or the deadline. */
async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('SIGTERM: readyz 503 at once, new connections accepted during the grace period, in-flight request completes, exit 0', async (t) => {
  // An upstream whose /slow answers only when the test says so.
  let releaseSlow: () => void = () => {};
  const slowArrived = Promise.withResolvers<void>();
  const upstream = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    if (req.url === '/slow') {
      slowArrived.resolve();
      releaseSlow = () => res.end('slow done');
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('slow ');
      return;
    }
    res.end('fast');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const dir = await manifests((upstream.address() as AddressInfo).port);
  const [httpPort, adminPort] = [await freePort(), await freePort()];
  const child: ChildProcess = spawn(
    process.execPath,
    [BIN, '--workers', '1', '--manifests', dir, '--http-port', String(httpPort), '--https-port', '0', '--admin-port', String(adminPort), '--bind-address', '127.0.0.1',
      '--admin-bind-address', '127.0.0.1', '--access-log=false', '--shutdown-grace-period', '1500ms', '--shutdown-timeout', '10s'],
    { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs = new LogLines();
  child.stdout!.on('data', (c: Buffer) => logs.feed(c));
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c));
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    upstream.closeAllConnections();
    upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  await until(async () => (await get(adminPort, '/readyz')).status === 200);
  assert.equal((await get(httpPort, '/fast')).body, 'fast');

  // 1. A slow request in flight when the signal comes.
  const slow = get(httpPort, '/slow');
  await slowArrived.promise;

  child.kill('SIGTERM');
  const t0 = Date.now();
  // 2. Readiness fails at once.
  await until(async () => (await get(adminPort, '/readyz')).status === 503, 1000);
  const readyz = await get(adminPort, '/readyz');
  assert.match(readyz.body, /draining/);
  assert.ok(Date.now() - t0 < 1000, 'readyz turned 503 within the grace period');

  // 3. During the grace period new connections are accepted and served, with Connection: close.
  const during = await get(httpPort, '/fast');
  assert.equal(during.status, 200);
  assert.equal(during.body, 'fast');
  assert.equal(during.headers.connection, 'close');
  assert.ok(Date.now() - t0 < 1500, 'served within the grace period');

  // 4. After the grace period the listener stops accepting, while the slow request is still open.
  await logs.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('draining: stopped accepting'));
  assert.ok(Date.now() - t0 >= 1400, `stopped accepting after the grace period (${Date.now() - t0}ms)`);
  await assert.rejects(get(httpPort, '/fast'), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
  assert.equal(child.exitCode, null, 'still running while a request is in flight');

  // 5. The in-flight request completes in full; then the process exits 0.
  releaseSlow();
  const slowReply = await slow;
  assert.equal(slowReply.status, 200);
  assert.equal(slowReply.body, 'slow slow done');
  const [code] = await exited;
  assert.equal(code, 0, `exit code 0; stderr: ${stderr}`);
  const drained = logs.lines.find((l) => l.msg === 'drained');
  assert.ok(drained, 'a "drained" log line');
  assert.equal(drained.cut, 0);
  assert.ok(logs.lines.some((l) => l.msg === 'stopped'));
});

test('SIGTERM: a request still running at --shutdown-timeout is cut, and the process still exits 0', async (t) => {
  const arrived = Promise.withResolvers<void>();
  const upstream = createServer((req) => {
    req.resume();
    arrived.resolve(); // never answers
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const dir = await manifests((upstream.address() as AddressInfo).port);
  const [httpPort, adminPort] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [BIN, '--workers', '1', '--manifests', dir, '--http-port', String(httpPort), '--https-port', '0', '--admin-port', String(adminPort), '--bind-address', '127.0.0.1',
      '--admin-bind-address', '127.0.0.1', '--access-log=false', '--shutdown-grace-period', '0s', '--shutdown-timeout', '300ms'],
    { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs = new LogLines();
  child.stdout.on('data', (c: Buffer) => logs.feed(c));
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    upstream.closeAllConnections();
    upstream.close();
    await rm(dir, { recursive: true, force: true });
  });
  await until(async () => (await get(adminPort, '/readyz')).status === 200);
  const hanging = get(httpPort, '/hang').then(
    () => 'answered',
    () => 'cut',
  );
  await arrived.promise;
  const t0 = Date.now();
  child.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0);
  assert.equal(await hanging, 'cut');
  assert.ok(Date.now() - t0 < 5000, 'exited soon after the shutdown timeout');
  const timeout = logs.lines.find((l) => l.reason === 'DrainTimeout');
  assert.ok(timeout, 'a DrainTimeout log line');
  assert.equal(timeout.connections, 1);
});

/** A plain node:http server that upgrades every request to a raw echo socket (as WebSocket proxying would). */
async function upgradeServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => res.end('plain'));
  server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
    socket.on('data', (d) => socket.write(d));
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

async function openUpgraded(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
  const [head] = (await once(socket, 'data')) as [Buffer];
  assert.match(head.toString(), /^HTTP\/1.1 101/);
  return socket;
}

test('Drain waits for an upgraded connection to finish, within the timeout', async () => {
  const { server, port } = await upgradeServer();
  const drain = new Drain({ logger: pino({ level: 'silent' }) }).track(server);
  const socket = await openUpgraded(port);
  assert.equal(drain.connections, 1);
  const run = drain.run({ gracePeriodMs: 0, timeoutMs: 10_000 });
  assert.equal(drain.draining, true);
  // Still open and working after the listener stopped accepting.
  await new Promise((r) => setImmediate(r));
  assert.equal(server.listening, false, 'stopped accepting');
  socket.write('ping');
  const [echoed] = (await once(socket, 'data')) as [Buffer];
  assert.equal(echoed.toString(), 'ping');
  socket.end();
  const outcome = await run;
  assert.equal(outcome.cut, 0);
  await new Promise((r) => setImmediate(r));
  assert.equal(drain.connections, 0);
});

test('Drain cuts an upgraded connection still open at the timeout', async () => {
  const { server, port } = await upgradeServer();
  const drain = new Drain({ logger: pino({ level: 'silent' }) }).track(server);
  const socket = await openUpgraded(port);
  const closed = once(socket, 'close');
  const outcome = await drain.run({ gracePeriodMs: 0, timeoutMs: 100 });
  assert.equal(outcome.cut, 1);
  await closed;
  assert.equal(server.listening, false);
});

test('Drain: idle keep-alive connections are closed, responses during the drain say Connection: close', async () => {
  const server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const drain = new Drain({ logger: pino({ level: 'silent' }) }).track(server);
  // A keep-alive connection that served one request and sits idle.
  const idle = connect(port, '127.0.0.1');
  await once(idle, 'connect');
  idle.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  const [first] = (await once(idle, 'data')) as [Buffer];
  assert.match(first.toString(), /Connection: keep-alive/i);
  const idleClosed = once(idle, 'close');
  drain.begin();
  // During the drain a new request on another connection is answered with Connection: close.
  const other = connect(port, '127.0.0.1');
  await once(other, 'connect');
  other.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  const [second] = (await once(other, 'data')) as [Buffer];
  assert.match(second.toString(), /Connection: close/i);
  const outcome = await drain.run({ gracePeriodMs: 0, timeoutMs: 5000 });
  await idleClosed;
  assert.equal(outcome.cut, 0);
});
