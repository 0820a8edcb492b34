// The shipped V8 flags (src/node-flags.ts): bin/switchyard.js re-executes itself with them, in the
// same process, and leaves a value the user chose alone. Checked on the real spawned command, by
// the command line the kernel reports for that pid.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHIPPED_NODE_FLAGS, missingNodeFlags } from '../../src/node-flags.ts';

const BIN = fileURLToPath(new URL('../../bin/switchyard.js', import.meta.url));

describe('missingNodeFlags', () => {
  it('lists the shipped flags when nothing sets them', () => {
    assert.deepEqual(missingNodeFlags([], undefined), [...SHIPPED_NODE_FLAGS]);
    assert.deepEqual(missingNodeFlags(['--expose-gc', '--import', 'x.ts'], '--enable-source-maps'), [...SHIPPED_NODE_FLAGS]);
  });
  it('a value from the command line or NODE_OPTIONS wins, in either spelling', () => {
    assert.deepEqual(missingNodeFlags(['--max-semi-space-size=4'], undefined), []);
    assert.deepEqual(missingNodeFlags(['--max_semi_space_size=0'], undefined), []);
    assert.deepEqual(missingNodeFlags([], ' --trace-warnings  --max-semi-space-size=32 '), []);
  });
});

/** Spawns `node [nodeArgs] bin/switchyard.js` serving an empty folder; returns its /proc cmdline once started. */
async function startedCommandLine(nodeArgs: readonly string[], env: Record<string, string> = {}): Promise<{ pid: number; argv: string[] }> {
  const manifests = mkdtempSync(join(tmpdir(), 'swy-node-flags-'));
  const child = spawn(process.execPath, [...nodeArgs, BIN, '--manifests', manifests, '--workers', '1', '--http-port', '0', '--https-port', '0', '--admin-port', '0',
    '--bind-address', '127.0.0.1', '--admin-bind-address', '127.0.0.1', '--log-level', 'info'], {
    env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not started within 20 s: ${output}`)), 20_000);
      const onData = (chunk: Buffer): void => {
        output += chunk;
        if (output.includes('switchyard started')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => reject(new Error(`exited (${code}) before starting: ${output}`)));
    });
    const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return { pid: child.pid!, argv };
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    rmSync(manifests, { recursive: true, force: true });
  }
}

describe('bin/switchyard.js', { skip: !existsSync('/proc/self/cmdline') && 'needs /proc' }, () => {
  it('re-executes itself with the shipped flags: same pid, node options kept, arguments unchanged', async () => {
    const { argv } = await startedCommandLine(['--enable-source-maps']);
    const bin = argv.indexOf(BIN);
    assert.ok(bin > 0, argv.join(' '));
    assert.deepEqual(argv.slice(1, bin), [...SHIPPED_NODE_FLAGS, '--enable-source-maps']);
    assert.deepEqual(argv.slice(bin + 1, bin + 3), ['--manifests', argv[bin + 2]]);
    assert.equal(argv.at(-1), 'info');
  });

  it('a semi-space size given on the command line is kept, not overridden or doubled', async () => {
    const { argv } = await startedCommandLine(['--max-semi-space-size=4']);
    assert.deepEqual(argv.filter((a) => a.startsWith('--max-semi-space-size')), ['--max-semi-space-size=4']);
  });

  it('a semi-space size given in NODE_OPTIONS: no re-exec, the command line is the one started', async () => {
    const { argv } = await startedCommandLine([], { NODE_OPTIONS: '--max-semi-space-size=4' });
    assert.deepEqual(argv.slice(1, 2), [BIN]);
  });
});
