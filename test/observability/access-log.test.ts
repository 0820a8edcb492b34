import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessLog, formatAccessLine } from '../../src/observability/access-log.ts';
import type { AccessLogRecord } from '../../src/observability/access-log.ts';

const RECORD: AccessLogRecord = {
  requestId: 'abc123',
  remoteAddress: '127.0.0.1',
  method: 'GET',
  host: 'shop.example.com',
  url: '/cart?id=1',
  status: 200,
  routeName: 'ingress/shop/web/rule/0/path/0',
  namespace: 'shop',
  ingress: 'web',
  service: 'web',
  canary: '',
  upstreamAddress: '10.0.0.7:8080',
  upstreamStatus: 200,
  durationSeconds: 0.0123456,
  upstreamConnectSeconds: 0,
  upstreamResponseSeconds: 0.011,
  bytesIn: 120,
  bytesOut: 5400,
  userAgent: 'curl/8.5.0',
};

function tempFile(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'swy-access-'));
  return { dir, file: join(dir, 'logs', 'access.json') };
}

test('one JSON line per request with every field', async () => {
  const { dir, file } = tempFile();
  const log = new AccessLog({ enabled: true, destination: file });
  log.write(RECORD);
  log.write({ ...RECORD, requestId: 'r2', status: 404, routeName: '', namespace: '', ingress: '', service: '', upstreamAddress: '', upstreamStatus: 0, upstreamConnectSeconds: -1, upstreamResponseSeconds: -1 });
  await log.close();
  const lines = readFileSync(file, 'utf8').split('\n');
  assert.equal(lines.pop(), '', 'ends with a newline');
  assert.equal(lines.length, 2);
  const first = JSON.parse(lines[0]);
  assert.match(first.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  delete first.time;
  assert.deepEqual(first, {
    kind: 'access', requestId: 'abc123', remoteAddr: '127.0.0.1', method: 'GET', host: 'shop.example.com', path: '/cart?id=1',
    status: 200, route: 'ingress/shop/web/rule/0/path/0', namespace: 'shop', ingress: 'web', service: 'web', canary: '',
    upstreamAddr: '10.0.0.7:8080', upstreamStatus: 200, durationMs: 12.346, upstreamConnectMs: 0, upstreamResponseMs: 11,
    bytesIn: 120, bytesOut: 5400, userAgent: 'curl/8.5.0',
  });
  const second = JSON.parse(lines[1]);
  assert.equal(second.route, null);
  assert.equal(second.upstreamAddr, null);
  assert.equal(second.upstreamStatus, null);
  assert.equal(second.upstreamConnectMs, null);
  assert.equal(second.upstreamResponseMs, null);
  rmSync(dir, { recursive: true });
});

test('client-controlled strings are escaped (no log injection)', () => {
  const line = formatAccessLine({ ...RECORD, host: 'evil"\n{"x":1}', url: '/a\u0000b\\', userAgent: '\u2028ua' }, '2026-01-01T00:00:00.000Z');
  assert.equal(line.indexOf('\n'), line.length - 1, 'exactly one line');
  const parsed = JSON.parse(line);
  assert.equal(parsed.host, 'evil"\n{"x":1}');
  assert.equal(parsed.path, '/a\u0000b\\');
  assert.equal(parsed.userAgent, '\u2028ua');
});

test('--access-log=false writes nothing and opens nothing', async () => {
  const { dir, file } = tempFile();
  const log = new AccessLog({ enabled: false, destination: file });
  log.write(RECORD);
  await log.close();
  assert.equal(existsSync(file), false);
  rmSync(dir, { recursive: true });
});

test('writes are asynchronous and batched; close() flushes everything', async () => {
  const { dir, file } = tempFile();
  const log = new AccessLog({ enabled: true, destination: file, minLength: 4096 });
  for (let i = 0; i < 1000; i++) log.write({ ...RECORD, requestId: `r${i}` });
  await log.close();
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(lines.length, 1000);
  assert.equal(JSON.parse(lines[999]).requestId, 'r999');
  assert.equal(log.dropped, 0);
  log.write(RECORD); // after close: ignored, never throws
  rmSync(dir, { recursive: true });
});

test('a stuck destination drops lines past the buffer limit instead of growing without bound', async () => {
  const { dir, file } = tempFile();
  const log = new AccessLog({ enabled: true, destination: file, minLength: 900, maxWrite: 1024, maxBufferBytes: 4096 });
  // Before the file is even open, everything queues: the limit applies (lines are handed over
  // at the end of the event-loop turn).
  for (let i = 0; i < 100; i++) log.write(RECORD);
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(log.dropped > 0 && log.dropped < 100, `dropped ${log.dropped}`);
  await log.close();
  rmSync(dir, { recursive: true });
});
