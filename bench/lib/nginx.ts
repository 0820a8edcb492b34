// Debian's nginx as a contender: found on PATH (or installed with apt-get when we are root), run
// with its own generated config in a temp dir, 1 worker, never as a system service.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { start, type Proc } from './procs.ts';
import { waitUntil, get } from './net.ts';
import { childrenOf } from './cpu.ts';

export interface NginxInfo {
  readonly path: string;
  readonly version: string;
  readonly installedNow: boolean;
}

function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/local/sbin', '/sbin'])) {
    const candidate = join(dir, cmd);
    if (spawnSync('test', ['-x', candidate]).status === 0) return candidate;
  }
  return null;
}

function versionOf(path: string): string {
  const r = spawnSync(path, ['-v'], { encoding: 'utf8' });
  return (r.stderr || r.stdout).trim().replace(/^nginx version:\s*(nginx\/)?/, '');
}

/** Finds nginx, or installs Debian's (nginx-light, else nginx) when running as root. Null if neither. */
export function ensureNginx(log: (msg: string) => void): NginxInfo | null {
  const found = which('nginx');
  if (found) {
    const info = { path: found, version: versionOf(found), installedNow: false };
    log(`nginx: using ${found} (${info.version})`);
    return info;
  }
  if (process.getuid?.() !== 0) {
    log('nginx: not found and not root: nginx contenders are skipped (install nginx-light to compare)');
    return null;
  }
  log('nginx: not found; installing Debian package: apt-get install -y nginx-light || nginx ...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const sh = 'apt-get install -y --no-install-recommends nginx-light || (apt-get update && apt-get install -y --no-install-recommends nginx-light) || apt-get install -y --no-install-recommends nginx';
  const r = spawnSync('sh', ['-c', sh], { env, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) log(`nginx: apt-get failed:\n${(r.stderr ?? '').slice(-2000)}`);
  // The package starts a system service: we run our own instance, so stop theirs (ignore failures).
  spawnSync('sh', ['-c', 'service nginx stop >/dev/null 2>&1 || systemctl stop nginx >/dev/null 2>&1 || true']);
  const path = which('nginx');
  if (!path) return null;
  const info = { path, version: versionOf(path), installedNow: true };
  log(`nginx: installed ${path} (${info.version})`);
  return info;
}

/** The parts every generated nginx.conf shares: 1 worker, no access log, everything in `dir`. */
function preamble(dir: string): string {
  return `worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 8192; }
http {
  access_log off;
  server_tokens off;
  keepalive_requests 10000000;
  keepalive_timeout 65s;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
`;
}

/**
 * nginx as the fast upstream: `return 200` with a fixed body. nginx config tokens are limited to
 * 4 KiB, so the 16 KiB body is four 4 KiB-less variables concatenated in the return.
 */
export function upstreamConfig(dir: string, port: number, name: string): string {
  const chunk = 'x'.repeat(2048);
  return `${preamble(dir)}
  server {
    listen 127.0.0.1:${port} backlog=4096;
    default_type text/plain;
    add_header x-upstream ${name};
    set $c ${chunk};
    location = /b16384 { return 200 "$c$c$c$c$c$c$c$c"; }
    location = /b1024 { return 200 "${'x'.repeat(1024)}"; }
    location / { return 200 "${'x'.repeat(100)}"; }
  }
}
`;
}

export interface NginxRoute {
  readonly host: string;
  readonly upstreamPorts: readonly number[];
}

/**
 * nginx as a reverse proxy (what ingress-nginx generates, minus Lua): HTTP/1.1 upstreams with
 * keep-alive. `routes` become one server block each; the first is also the default server. With
 * `tls`, the listener terminates TLS with that certificate, as ingress-nginx's TLS server blocks do.
 */
export function proxyConfig(dir: string, port: number, routes: readonly NginxRoute[], tls?: { readonly certFile: string; readonly keyFile: string }): string {
  const ssl = tls
    ? `
    ssl_certificate ${tls.certFile};
    ssl_certificate_key ${tls.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;`
    : '';
  const blocks: string[] = [];
  routes.forEach((route, i) => {
    const servers = route.upstreamPorts.map((p) => `server 127.0.0.1:${p};`).join(' ');
    blocks.push(`  upstream u${i} { ${servers} keepalive 512; keepalive_requests 10000000; keepalive_timeout 60s; }
  server {
    listen 127.0.0.1:${port}${tls ? ' ssl' : ''}${i === 0 ? ' default_server backlog=4096' : ''};
    server_name ${route.host};${ssl}
    location / {
      proxy_pass http://u${i};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_buffer_size 16k;
      proxy_buffers 8 16k;
    }
  }`);
  });
  return `${preamble(dir)}
${blocks.join('\n')}
}
`;
}

export interface NginxInstance {
  readonly proc: Proc;
  readonly dir: string;
  readonly port: number;
  /** Rewrites the config and signals the master to reload it (what `nginx -s reload` does). */
  reload(config: string): void;
  stop(): Promise<void>;
}

/** Starts nginx (master + 1 worker) pinned to `core` with `config` written into `dir`. */
export async function startNginx(nginx: NginxInfo, dir: string, port: number, config: string, core: number, probePath = '/', ready?: () => Promise<boolean>): Promise<NginxInstance> {
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'tmp'), 0o777);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, config);
  const test = spawnSync(nginx.path, ['-t', '-p', dir, '-e', join(dir, 'error.log'), '-c', conf], { encoding: 'utf8' });
  if (test.status !== 0) throw new Error(`nginx -t failed for ${conf}:\n${test.stderr}`);
  const proc = start('nginx', nginx.path, ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf], { core });
  await waitUntil(`nginx on :${port}`, ready ?? (async () => (await get(port, probePath, undefined, 1000, false)).status > 0), 10_000, 20);
  return {
    proc,
    dir,
    port,
    reload(next: string) {
      writeFileSync(conf, next);
      process.kill(proc.pid, 'SIGHUP');
    },
    async stop() {
      // SIGQUIT = graceful shutdown of master and workers; SIGKILL after the grace period, also for
      // any worker the master left behind.
      const workers = childrenOf(proc.pid);
      await proc.stop('SIGQUIT', 5000);
      for (const pid of workers) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone, as it should be
        }
      }
    },
  };
}
