// Runs the load generator (bench/load-client.ts, autocannon) as a separate process on core 0.
import { fileURLToPath } from 'node:url';
import { start } from './procs.ts';

export interface LoadSpec {
  readonly url: string;
  readonly host?: string;
  readonly connections: number;
  readonly durationSec: number;
  readonly timeoutSec?: number;
}

export interface LoadSummary {
  /** Completed responses per second (any status). */
  readonly rps: number;
  /** Latency in ms. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
  readonly requests: number;
  /** Connection errors, including timeouts. */
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly mismatches: number;
  readonly durationSec: number;
  readonly statusCodes: Readonly<Record<string, number>>;
}

export const LOAD_CORE = 0;
export const SERVER_CORE = 1;

const client = fileURLToPath(new URL('../load-client.ts', import.meta.url));

/** Failed requests as the targets count them: socket errors, timeouts and non-2xx responses. */
export function failures(s: LoadSummary): number {
  return s.errors + s.non2xx;
}

export async function runLoad(spec: LoadSpec): Promise<LoadSummary> {
  const proc = start('autocannon', process.execPath, [client, JSON.stringify(spec)], { core: LOAD_CORE });
  const timeoutMs = (spec.durationSec + 30) * 1000;
  const line = await proc.waitForLine(/^\{.*\}$/, timeoutMs).finally(() => proc.stop('SIGTERM', 2000));
  return JSON.parse(line[0]) as LoadSummary;
}
