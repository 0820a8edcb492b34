// Small HTTP helpers for the orchestrator: free ports, single requests, polling until ready.
import { createServer, request, Agent, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';

/** A port that was free a moment ago on 127.0.0.1 (for processes that need a port on the command line). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/**
 * `count` distinct ports that were free a moment ago. All listeners stay open until every port is
 * taken: the kernel may hand out a just-closed port again, and two flags on one port fail to start.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    for (const server of servers) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((server) => (server.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
  }
}

export interface GetResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export const keepAliveAgent = new Agent({ keepAlive: true, maxSockets: 4 });

/** One GET to 127.0.0.1:port (with an optional Host header); rejects on socket errors or timeout. */
export function get(port: number, path: string, host?: string, timeoutMs = 2000, agent: Agent | false = keepAliveAgent): Promise<GetResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'GET', headers: host ? { host } : {}, agent, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** One HTTPS GET on a fresh connection; the certificate is not checked (self-signed contenders on 127.0.0.1). */
export function getTls(port: number, path: string, host: string, timeoutMs = 2000): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, servername: host, headers: { host }, agent: false, rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Polls `check` every `intervalMs` until it returns true; throws after `timeoutMs` with `what`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<number> {
  const started = performance.now();
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return performance.now() - started;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() - started > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** True when GET answers with `status` (and, if given, header x-upstream equal to `upstream`). */
export async function answers(port: number, path: string, host: string | undefined, status = 200, upstream?: string): Promise<boolean> {
  const res = await get(port, path, host, 1000);
  return res.status === status && (upstream === undefined || res.headers['x-upstream'] === upstream);
}
