// The real command line, spawned: exit codes and messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { FLAGS, envVarName } from '../../src/config.ts';

const BIN = fileURLToPath(new URL('../../bin/switchyard.js', import.meta.url));

function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`switchyard ${args.join(' ')} did not exit; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('--help lists every flag with its env var; exit 0', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  for (const f of FLAGS) {
    assert.match(r.stdout, new RegExp(`--${f.name} `));
    assert.ok(r.stdout.includes(envVarName(f.name)));
  }
});

test('--version; exit 0', async () => {
  const r = await runCli(['--version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^switchyard \d+\.\d+\.\d+\n$/);
});

const USAGE_ERRORS: [string[], Record<string, string>, RegExp][] = [
  [['--no-such-flag'], {}, /^switchyard: unknown flag --no-such-flag \(see --help\)\n$/],
  [['--http-port', '65536'], {}, /^switchyard: invalid value for --http-port: port out of range \(0-65535\): 65536\n$/],
  [[], { SWITCHYARD_ADMIN_PORT: 'x' }, /^switchyard: invalid value for SWITCHYARD_ADMIN_PORT: expected a port number/],
  [['--sync-holdoff=fast'], {}, /invalid value for --sync-holdoff: expected a duration/],
  [['--default-backend-service', 'web:80'], {}, /invalid value for --default-backend-service: expected NAMESPACE\/NAME:PORT/],
  [['--log-level', 'chatty'], {}, /invalid value for --log-level/],
];

for (const [args, env, message] of USAGE_ERRORS) {
  test(`usage error exits 2: ${args.join(' ') || JSON.stringify(env)}`, async () => {
    const r = await runCli(args, env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
  });
}

test('a missing manifests folder exits 2 with a clear message', async () => {
  const r = await runCli(['--manifests', '/nonexistent/switchyard', '--http-port', '0', '--https-port', '0', '--admin-port', '0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /switchyard: --manifests \/nonexistent\/switchyard: no such directory/);
});

test('a port in use exits 2 with a clear message', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address() as { port: number };
  try {
    const examples = fileURLToPath(new URL('../../examples', import.meta.url));
    const r = await runCli(['--manifests', examples, '--http-port', String(port), '--https-port', '0', '--bind-address', '127.0.0.1', '--admin-port', '0']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`switchyard: http port ${port} is already in use`));
  } finally {
    blocker.close();
  }
});

test('--source kubernetes without any cluster config exits 2 and says why', async () => {
  const r = await runCli(['--source', 'kubernetes', '--http-port', '0', '--https-port', '0', '--admin-port', '0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^switchyard: .*(kubeconfig|KUBECONFIG|not yet available)/);
});
