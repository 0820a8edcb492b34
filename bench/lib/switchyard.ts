// The Switchyard contender: the real controller as its own process, pinned to the server core,
// serving a generated --manifests folder on free ports. Started exactly as shipped: through
// bin/switchyard.js (what the Dockerfile and `npm run controller` run), which re-executes itself
// with the shipped V8 flags (src/node-flags.ts) unless `nodeArgs` sets them.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { start, type Proc } from './procs.ts';
import { freePorts, get, waitUntil } from './net.ts';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const mainTs = join(repoRoot, 'src/main.ts');
const shippedEntry = join(repoRoot, 'bin/switchyard.js');
const embedded = join(repoRoot, 'bench/servers/switchyard-embedded.ts');

/** Why the controller cannot be benchmarked yet, or null when src/main.ts exists. */
export function switchyardUnavailable(): string | null {
  return existsSync(mainTs) ? null : 'src/main.ts does not exist yet';
}

/**
 * What the Switchyard contender is: the controller, or (before src/main.ts exists) the embedded
 * data plane serving a folder read once (good for throughput and profiles, not for churn).
 */
export function switchyardMode(): 'controller' | 'embedded' {
  return existsSync(mainTs) ? 'controller' : 'embedded';
}

/** Whether src/config.ts declares flag `name` (without dashes), to tell which scenarios can run. */
export function configKnowsFlag(name: string): boolean {
  try {
    return readFileSync(join(repoRoot, 'src/config.ts'), 'utf8').includes(`name: '${name}'`);
  } catch {
    return false;
  }
}

export interface SwitchyardOptions {
  readonly manifests: string;
  /** A core or a taskset core list ("0,1"); null: not pinned. */
  readonly core: number | string | null;
  readonly logLevel?: string;
  readonly extraArgs?: readonly string[];
  readonly nodeArgs?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Host/path/x-upstream that must answer before the controller counts as ready. */
  readonly probe: { readonly host: string; readonly path: string; readonly upstream?: string };
  readonly readyTimeoutMs?: number;
}

export interface Switchyard {
  readonly proc: Proc;
  readonly port: number;
  /** The TLS listener (its generated default certificate unless the manifests carry a Secret). */
  readonly httpsPort: number;
  readonly adminPort: number;
  /** ms from spawn to the probe route answering 200. */
  readonly readyMs: number;
  stop(): Promise<void>;
}

export async function startSwitchyard(options: SwitchyardOptions): Promise<Switchyard> {
  const entry = switchyardMode() === 'controller' ? shippedEntry : embedded;
  const [port, httpsPort, adminPort] = (await freePorts(3)) as [number, number, number];
  const args = [
    ...(options.nodeArgs ?? []),
    entry,
    '--manifests', options.manifests,
    '--http-port', String(port),
    '--https-port', String(httpsPort),
    '--admin-port', String(adminPort),
    '--bind-address', '127.0.0.1',
    '--admin-bind-address', '127.0.0.1',
    '--log-level', options.logLevel ?? 'warn',
    ...(options.extraArgs ?? []),
  ];
  const started = performance.now();
  const proc = start('switchyard', process.execPath, args, { core: options.core, cwd: repoRoot, env: options.env, keepBytes: 1 << 20 });
  const { host, path, upstream } = options.probe;
  try {
    await Promise.race([
      waitUntil(
        `switchyard serving ${host}${path}`,
        async () => {
          const res = await get(port, path, host, 1000, false);
          return res.status === 200 && (upstream === undefined || res.headers['x-upstream'] === upstream);
        },
        options.readyTimeoutMs ?? 60_000,
        10,
      ),
      proc.exited.then((code) => {
        throw new Error(`switchyard exited (${code}) before serving`);
      }),
    ]);
  } catch (err) {
    await proc.stop();
    throw new Error(`${(err as Error).message}\n--- controller output (tail) ---\n${proc.output().slice(-3000)}`);
  }
  const readyMs = performance.now() - started;
  return { proc, port, httpsPort, adminPort, readyMs, stop: () => proc.stop('SIGTERM', 10_000) };
}
