// `npm start`, for real: spawn the demo (echo backends + controller on examples/) on free proxy and
// admin ports, run the README Quick start's curl lines against it, stop it with SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { README_FLAGS_END, README_FLAGS_START, flagTableMarkdown } from '../../src/config.ts';
import { createServer } from 'node:net';
import { DEMO_BACKENDS } from '../../src/demo.ts';
import { get } from './helpers.ts';

/** The demo's echo ports are fixed by examples/; on a shared machine another run may hold them. */
async function waitUntilFree(port: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return;
    if (performance.now() > deadline) throw new Error(`port ${port} (demo echo backend) stays in use`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

interface CurlLine {
  host: string | null;
  port: number;
  path: string;
  expected: string | null;
}

/** The curl lines between the quickstart markers, each with the "# expected" line after it. */
function quickStartCurls(): CurlLine[] {
  const start = README.indexOf('<!-- quickstart:start');
  const end = README.indexOf('<!-- quickstart:end');
  assert.ok(start !== -1 && end > start, 'README has the quickstart markers');
  const lines = README.slice(start, end).split('\n');
  const out: CurlLine[] = [];
  lines.forEach((line, i) => {
    // The URL may be quoted (a "?" in it is a glob to the shell).
    const m = /^curl (?:-H 'Host: ([^']+)' )?'?localhost:(\d+)([^\s']*)'?$/.exec(line.trim());
    if (!m) return;
    const next = lines[i + 1]?.trim() ?? '';
    out.push({ host: m[1] ?? null, port: Number(m[2]), path: m[3] || '/', expected: next.startsWith('# ') ? next.slice(2) : null });
  });
  return out;
}

test('README flag table is the generated one', () => {
  const start = README.indexOf(README_FLAGS_START);
  const end = README.indexOf(README_FLAGS_END);
  assert.ok(start !== -1 && end > start, 'README has the flag table markers');
  assert.equal(README.slice(start + README_FLAGS_START.length, end).trim(), flagTableMarkdown(), 'run `node src/config.ts --update-readme`');
});

test('npm start: the demo serves the README quick start, then stops cleanly on SIGTERM', async (t) => {
  const curls = quickStartCurls();
  assert.ok(curls.length >= 5, 'the quick start has curl lines');
  for (const b of DEMO_BACKENDS) await waitUntilFree(b.port, 60_000);
  const child = spawn(process.execPath, ['src/demo.ts', '--workers', '1', '--http-port', '0', '--https-port', '0', '--admin-port', '0', '--bind-address', '127.0.0.1', '--admin-bind-address', '127.0.0.1'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  // Ports and readiness from the JSON log (port 0: the log says which port was bound).
  const ports: Record<string, number> = {};
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo not ready in 20s; stderr: ${stderr}`)), 20_000);
    void exited.then((code) => reject(new Error(`demo exited early (${code}); stderr: ${stderr}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      let entry: { msg?: string; listener?: string; port?: number };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        return;
      }
      if (entry.msg?.endsWith('listener ready') && entry.listener && entry.port) ports[entry.listener] = entry.port;
      if (entry.msg === 'first route table published; ready') {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  assert.ok(ports.http && ports.admin, JSON.stringify(ports));

  for (const c of curls) {
    const port = c.port === 8080 ? ports.http : c.port === 10254 ? ports.admin : c.port;
    const r = await get(port, c.host ?? `localhost:${port}`, c.path);
    assert.equal(r.status, 200, `${c.host} ${c.path}`);
    if (c.expected !== null) assert.equal(r.body.split('\n')[0], c.expected, `curl -H 'Host: ${c.host}' ...${c.path}`);
  }

  child.kill('SIGTERM');
  assert.equal(await exited, 0, `exit code after SIGTERM; stderr: ${stderr}`);
});
