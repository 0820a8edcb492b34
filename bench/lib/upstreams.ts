// The fast local upstream every contender forwards to: node:http (bench/servers/upstream.ts) or
// nginx `return 200`. Both answer /b<size> with <size> bytes and an x-upstream: <name> header.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { start } from './procs.ts';
import { freePort } from './net.ts';
import { startNginx, upstreamConfig, type NginxInfo } from './nginx.ts';
import { SERVER_CORE } from './load.ts';

export type UpstreamKind = 'node' | 'nginx';

export interface Upstream {
  readonly kind: UpstreamKind;
  readonly name: string;
  readonly port: number;
  /** Process to measure CPU on (nginx: the master; its workers are counted with it). */
  readonly pid: number;
  stop(): Promise<void>;
}

const script = fileURLToPath(new URL('../servers/upstream.ts', import.meta.url));

export async function startUpstream(kind: UpstreamKind, name: string, tmp: string, nginx: NginxInfo | null): Promise<Upstream> {
  if (kind === 'node') {
    const proc = start(`upstream ${name}`, process.execPath, [script, name], { core: SERVER_CORE });
    const m = await proc.waitForLine(/^listening (\d+)/, 10_000);
    return { kind, name, port: Number(m[1]), pid: proc.pid, stop: () => proc.stop() };
  }
  if (!nginx) throw new Error('nginx upstream requested but nginx is not available');
  const port = await freePort();
  const dir = mkdtempSync(join(tmp, `nginx-upstream-${name}-`));
  const instance = await startNginx(nginx, dir, port, upstreamConfig(dir, port, name), SERVER_CORE);
  return { kind, name, port, pid: instance.proc.pid, stop: () => instance.stop() };
}
