// The kube source loaded the way production loads it: `bin/switchyard.js --source kubernetes` in
// its own process, so main.ts registers slim-client.ts's resolve hook before it imports the kube
// source. If a stand-in module in src/sources/kube/slim/ lacked an export client-node's config.js
// or cache.js needs, linking would fail (SyntaxError) and the process would exit: this test runs
// the whole controller (informers, Ingress status, Events, leader election) against the in-repo API
// server, and checks that no generated model or API module of client-node was loaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { KubeApiServer, kubeconfigFor } from '../support/kube-api-server.ts';
import { API_PERMISSIONS } from '../../src/sources/kube/permissions.ts';
import { endpointSlice, ingress, ingressClass, service } from './fixtures.ts';
import { get } from '../e2e/helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODULE_LOG = pathToFileURL(join(ROOT, 'test/support/module-log.ts')).href;

test('bin/switchyard.js --source kubernetes: runs with the slim client-node, loading no generated models or APIs', async (t) => {
  const api = new KubeApiServer();
  await api.start();
  const upstream = createServer((req, res) => {
    req.resume();
    res.end('a');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamPort = (upstream.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'swy-slim-'));
  t.after(async () => {
    await api.close();
    await new Promise((resolve) => upstream.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });
  api.put(ingressClass());
  api.put(service('shop', 'web', 80, upstreamPort));
  api.put(endpointSlice('shop', 'web', upstreamPort, [{ address: '127.0.0.1' }]));
  api.put(ingress('shop', 'web', { host: 'shop.example.com', service: 'web', port: 80 }));
  // A Service that does not exist: a diagnostic, so the leader creates an Event.
  api.put(ingress('shop', 'broken', { host: 'broken.example.com', service: 'missing', port: 80 }));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigFor(api));
  const moduleLog = join(dir, 'modules.txt');

  const child = spawn(process.execPath, [
    '--import', MODULE_LOG, 'bin/switchyard.js',
    '--source', 'kubernetes', '--kubeconfig', kubeconfig, '--workers', '1', '--http-port', '0', '--https-port', '0', '--admin-port', '0',
    '--bind-address', '127.0.0.1', '--admin-bind-address', '127.0.0.1', '--pod-namespace', 'ingress', '--publish-status-address', '192.0.2.10',
    '--sync-holdoff', '5ms', '--sync-max-holdoff', '50ms', '--access-log', 'false',
  ], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', SWY_MODULE_LOG: moduleLog }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  let httpPort = 0;
  const logged = new Set<string>();
  const seen = (msg: string) => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${msg}" in 20s; stderr: ${stderr}`)), 20_000);
    void exited.then((code) => reject(new Error(`controller exited early (${code}); stderr: ${stderr}`)));
    const check = () => {
      if (!logged.has(msg)) return;
      clearTimeout(timer);
      resolve();
    };
    waiters.add(check);
    check();
  });
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    let entry: { msg?: string; listener?: string; port?: number };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return;
    }
    if (entry.msg?.endsWith('listener ready') && entry.listener === 'http' && entry.port !== undefined) httpPort = entry.port;
    if (entry.msg !== undefined) logged.add(entry.msg);
    for (const w of waiters) w();
  });

  await seen('first route table published; ready');
  assert.notEqual(httpPort, 0, `no http listener port logged: ${[...logged].join(' | ')}`);
  const reply = await get(httpPort, 'shop.example.com', '/');
  assert.deepEqual({ status: reply.status, body: reply.body }, { status: 200, body: 'a' });
  // Leader election (Lease create/update), Ingress status (PUT .../status), an Event (POST).
  await seen('became leader');
  await seen('Ingress status updated');
  const deadline = Date.now() + 10_000;
  const event = () => api.requestLog.find((e) => e.verb === 'create' && e.resource === 'events');
  const status = () => api.requestLog.find((e) => e.verb === 'update' && e.resource === 'ingresses/status' && e.name === 'web');
  while (event() === undefined || status() === undefined) {
    assert.ok(Date.now() < deadline, `an Event and web's status written: ${JSON.stringify(api.requestLog.filter((e) => e.verb !== 'list' && e.verb !== 'watch'))}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(event()?.code, 201);
  assert.equal(status()?.code, 200);

  child.kill('SIGTERM');
  assert.equal(await exited, 0, `exit code after SIGTERM; stderr: ${stderr}`);
  assert.ok(logged.has('released the Lease'), 'the Lease was released on shutdown');

  // Every request within permissions.ts.
  const granted = new Set(API_PERMISSIONS.flatMap((p) => p.verbs.map((v) => `${v} ${p.apiGroup}/${p.resource}`)));
  const outside = api.requestLog.map((e) => `${e.verb} ${e.apiGroup}/${e.resource}`).filter((u) => !granted.has(u));
  assert.deepEqual(outside, []);

  // The modules loaded: client-node's config/cache/watch with the stand-ins, none of its generated
  // models or API classes (nor its index).
  const urls = readFileSync(moduleLog, 'utf8').split('\n');
  const clientNode = urls.filter((u) => u.includes('/@kubernetes/client-node/'));
  for (const file of ['dist/config.js', 'dist/cache.js', 'dist/watch.js']) {
    assert.ok(clientNode.some((u) => u.endsWith(`/@kubernetes/client-node/${file}`)), `${file} loaded`);
  }
  assert.ok(urls.some((u) => u.endsWith('/src/sources/kube/slim/gen-index.ts')), 'the gen/index.js stand-in was loaded');
  assert.ok(urls.some((u) => u.endsWith('/src/sources/kube/slim/serializer.ts')), 'the serializer.js stand-in was loaded');
  const generated = clientNode.filter((u) => /\/dist\/gen\/(models|apis|types)\/|\/dist\/(index|serializer|api)\.js$|\/dist\/gen\/index\.js$/.test(u));
  assert.deepEqual(generated, []);
  assert.ok(clientNode.length < 40, `client-node modules loaded: ${clientNode.length}`);
});
