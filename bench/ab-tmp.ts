// TEMP A/B (not committed): variants = "label|repoDir|nodeArg1,nodeArg2|extraArg1,..."
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { start } from './lib/procs.ts';
import { freePort, get, waitUntil } from './lib/net.ts';
import { startUpstream } from './lib/upstreams.ts';
import { ensureNginx } from './lib/nginx.ts';
import { ManifestDir, docs, ingressClassYaml, serviceYaml, ingressYaml } from './lib/manifests.ts';
import { compare } from './lib/compare.ts';
import { SERVER_CORE } from './lib/load.ts';
import { pinSelf } from './lib/procs.ts';

pinSelf(0);
const tmp = mkdtempSync(join(tmpdir(), 'ab-'));
const nginx = ensureNginx(() => {});
const upstream = await startUpstream('nginx', 'bench-up', tmp, nginx);
const rounds = Number(process.env.ROUNDS ?? 4);
const dur = Number(process.env.DUR ?? 4);
const running: { label: string; port: number; pid: number; stop: () => Promise<void> }[] = [];
try {
  for (const spec of process.argv.slice(2)) {
    const [label, repo, nodeArgs = '', extra = ''] = spec.split('|');
    const dir = new ManifestDir(mkdtempSync(join(tmp, 'm-')));
    dir.write('class.yaml', ingressClassYaml());
    dir.write('bench.yaml', docs(serviceYaml('bench-up', upstream.port, ['127.0.0.1']), ingressYaml('bench', 'bench.local', 'bench-up')));
    const [port, hp, ap] = [await freePort(), await freePort(), await freePort()];
    const args = [...nodeArgs.split(',').filter(Boolean), join(repo, 'src/main.ts'), '--manifests', dir.dir, '--http-port', String(port), '--https-port', String(hp), '--admin-port', String(ap),
      '--bind-address', '127.0.0.1', '--admin-bind-address', '127.0.0.1', '--log-level', 'warn', ...(extra ? extra.split(',') : ['--access-log=false'])];
    const proc = start(label, process.execPath, args, { core: SERVER_CORE, cwd: repo, keepBytes: 1 << 16 });
    await waitUntil('ready', async () => (await get(port, '/b100', 'bench.local', 1000, false)).status === 200, 30_000, 20);
    running.push({ label, port, pid: proc.pid, stop: () => proc.stop('SIGTERM', 5000) });
  }
  const [f] = await compare(running.map((r) => ({ label: r.label, port: r.port, host: 'bench.local', pids: [r.pid] })), [{ size: 100, connections: 50 }], { rounds, durationSec: dur, warmupSec: 2, log: () => {} });
  for (const [k, v] of Object.entries(f.contenders)) {
    console.log(`${k.padEnd(20)} rps ${v.rps}  p99 ${v.p99}  cpu ${v.cpuUsPerReq} (user ${v.cpuUserUsPerReq})  rounds cpu: ${v.rounds.map((r) => r.cpuUsPerReq.toFixed(1)).join(' ')}`);
  }
} finally {
  for (const r of running) await r.stop();
  await upstream.stop();
}
process.exit(0);
