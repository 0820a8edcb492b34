// What every scenario gets from bench/run.ts, and the shape of bench/results/<scenario>.json.
import { cpus, release, loadavg, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { NginxInfo } from './nginx.ts';
import { canPin } from './procs.ts';

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryMiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly nginx: string | null;
  readonly autocannon: string;
  readonly pinned: string;
  readonly loadAvgAtStart: readonly number[];
}

export interface BenchContext {
  readonly quick: boolean;
  /** Rounds per comparison (contenders alternated within each round). */
  readonly rounds: number;
  /** Seconds per load run in throughput-style comparisons. */
  readonly durationSec: number;
  /** Per-run temp folder (removed at the end). */
  readonly tmp: string;
  readonly nginx: NginxInfo | null;
  readonly machine: MachineInfo;
  log(message: string): void;
}

export interface Target {
  readonly name: string;
  /** The goal as written in the issue, e.g. ">= 0.6x nginx req/s". */
  readonly goal: string;
  /** What was measured, human-readable; null when it could not be measured. */
  readonly measured: string | null;
  /** null = not measured (reported as "n/a", never as a pass). */
  readonly pass: boolean | null;
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly status: 'ok' | 'partial' | 'not available yet' | 'failed';
  readonly note?: string;
  readonly finishedAt: string;
  readonly quick: boolean;
  readonly machine: MachineInfo;
  readonly settings: Record<string, unknown>;
  readonly data: unknown;
  readonly targets: readonly Target[];
}

export function machineInfo(nginx: NginxInfo | null): MachineInfo {
  const require = createRequire(import.meta.url);
  const autocannonPkg = JSON.parse(readFileSync(require.resolve('autocannon/package.json'), 'utf8')) as { version: string };
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryMiB: Math.round(totalmem() / 1048576),
    kernel: release(),
    node: process.version,
    nginx: nginx?.version ?? null,
    autocannon: autocannonPkg.version,
    pinned: canPin() ? 'taskset: load generator + orchestrator on core 0, proxy + upstream(s) on core 1' : 'not pinned (taskset missing or < 2 cores)',
    loadAvgAtStart: loadavg().map((n) => Math.round(n * 100) / 100),
  };
}
