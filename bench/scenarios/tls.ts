// TLS termination: Switchyard's HTTPS listener vs nginx terminating TLS in front of the same
// upstream (1 worker, upstream keep-alive), 1 KiB and 16 KiB bodies at 50 connections, HTTP/1.1
// over keep-alive TLS connections. Not a target of the benchmark issue: it is here because the
// HTTP-only throughput scenario once hid a 20-40 ms stall per response on the TLS listener
// (bench/PROFILE.md section 12). Both present an ECDSA P-256 certificate.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Scenario } from './scenario.ts';
import { check, result, x } from './scenario.ts';
import { startUpstream } from '../lib/upstreams.ts';
import { BENCH_HOST, SHIPPED_ARGS, benchManifests } from '../lib/contenders.ts';
import { compare, pairedRatio, type LoadTarget } from '../lib/compare.ts';
import { proxyConfig, startNginx, type NginxInstance } from '../lib/nginx.ts';
import { freePort, getTls } from '../lib/net.ts';
import { SERVER_CORE } from '../lib/load.ts';
import { startSwitchyard, switchyardUnavailable, type Switchyard } from '../lib/switchyard.ts';
import { num } from '../lib/report.ts';
import { issueCertificate } from '../../src/tls/x509.ts';

interface StoredCase {
  readonly label: string;
  readonly contenders: Record<string, { rps: number; p50: number; p99: number; errors: number; cpuUsPerReq: number; cpuUserUsPerReq: number }>;
  readonly ratios: { rps: number; p99: number; cpuEfficiency: number };
}

export const tlsScenario: Scenario = {
  name: 'tls',
  title: 'TLS termination (HTTPS listener vs nginx)',
  async run(ctx, shared) {
    const unavailable = switchyardUnavailable();
    if (unavailable) return result(ctx, 'tls', { status: 'not available yet', note: unavailable });
    const upstream = await startUpstream(shared.upstreamKind, 'bench-up', ctx.tmp, ctx.nginx);
    let sy: Switchyard | null = null;
    let nginx: NginxInstance | null = null;
    try {
      const targets: LoadTarget[] = [];
      if (ctx.nginx) {
        const dir = mkdtempSync(join(ctx.tmp, 'nginx-tls-'));
        const cert = issueCertificate({ commonName: BENCH_HOST, altNames: [BENCH_HOST] });
        writeFileSync(join(dir, 'cert.pem'), cert.cert);
        writeFileSync(join(dir, 'key.pem'), cert.key, { mode: 0o600 });
        const port = await freePort();
        const config = proxyConfig(dir, port, [{ host: BENCH_HOST, upstreamPorts: [upstream.port] }], { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') });
        nginx = await startNginx(ctx.nginx, dir, port, config, SERVER_CORE, '/', async () => (await getTls(port, '/b100', BENCH_HOST, 1000)).status === 200);
        targets.push({ label: 'nginx', port, host: BENCH_HOST, pids: [nginx.proc.pid], scheme: 'https' });
      } else {
        ctx.log('tls: nginx not available; Switchyard alone');
      }
      sy = await startSwitchyard({
        manifests: benchManifests(ctx, upstream.port).dir,
        core: SERVER_CORE,
        extraArgs: SHIPPED_ARGS(),
        probe: { host: BENCH_HOST, path: '/b100', upstream: upstream.name },
      });
      const httpsPort = sy.httpsPort;
      await getTls(httpsPort, '/b100', BENCH_HOST, 5000);
      targets.push({ label: 'switchyard', port: httpsPort, host: BENCH_HOST, pids: [sy.proc.pid], scheme: 'https' });

      const figures = await compare(targets, [{ size: 1024, connections: 50 }, { size: 16384, connections: 50 }], {
        rounds: ctx.rounds,
        durationSec: ctx.durationSec,
        warmupSec: ctx.quick ? 1 : 3,
        log: ctx.log,
      });
      const cases: StoredCase[] = figures.map((f) => ({
        label: f.label,
        contenders: Object.fromEntries(
          Object.entries(f.contenders).map(([k, v]) => [k, { rps: v.rps, p50: v.p50, p99: v.p99, errors: v.errors, cpuUsPerReq: v.cpuUsPerReq, cpuUserUsPerReq: v.cpuUserUsPerReq }]),
        ),
        ratios: {
          rps: pairedRatio(f, 'switchyard', 'nginx'),
          p99: pairedRatio(f, 'switchyard', 'nginx', 'p99'),
          cpuEfficiency: pairedRatio(f, 'nginx', 'switchyard', 'cpuUsPerReq'),
        },
      }));
      for (const c of cases) ctx.log(`  ${c.label}: Switchyard ${x(c.ratios.rps)} nginx req/s, p99 ${x(c.ratios.p99)}, CPU efficiency ${x(c.ratios.cpuEfficiency)}`);
      const failed = cases.reduce((n, c) => n + (c.contenders.switchyard?.errors ?? 0), 0);
      return result(ctx, 'tls', {
        status: ctx.nginx ? 'ok' : 'partial',
        note: ctx.nginx ? undefined : 'nginx not available: Switchyard alone',
        settings: { rounds: ctx.rounds, durationSec: ctx.durationSec, connections: 50, upstream: shared.upstreamKind, protocol: 'HTTP/1.1 over TLS, keep-alive' },
        data: { cases },
        targets: [check('failed requests over TLS (all cases)', '0', failed, (v) => v === 0, String)],
      });
    } finally {
      await sy?.stop();
      await nginx?.stop();
      await upstream.stop();
    }
  },
  markdown(r) {
    const d = r.data as { cases: StoredCase[] };
    const lines = [
      'HTTP/1.1 over keep-alive TLS connections, 50 connections, both proxies on one core with the upstream; nginx terminates TLS like ingress-nginx does (1 worker, upstream keep-alive). Not an issue target: it guards the TLS listener, which the HTTP throughput scenario does not exercise.',
      '',
      '| case | contender | req/s | p50 ms | p99 ms | failed | proxy CPU µs/req (user + sys) |',
      '|---|---|---:|---:|---:|---:|---:|',
    ];
    for (const c of d.cases) {
      for (const [k, v] of Object.entries(c.contenders)) {
        lines.push(`| ${c.label} | ${k} | ${v.rps} | ${num(v.p50)} | ${num(v.p99)} | ${v.errors} | ${num(v.cpuUsPerReq)} (${num(v.cpuUserUsPerReq)} + ${num(Math.round((v.cpuUsPerReq - v.cpuUserUsPerReq) * 10) / 10)}) |`);
      }
    }
    lines.push('', '| case | req/s Switchyard/nginx | p99 Switchyard/nginx | CPU efficiency Switchyard vs nginx |', '|---|---:|---:|---:|');
    for (const c of d.cases) lines.push(`| ${c.label} | ${x(c.ratios.rps)} | ${x(c.ratios.p99)} | ${x(c.ratios.cpuEfficiency)} |`);
    return lines.join('\n');
  },
};
