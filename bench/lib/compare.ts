// Same-run comparison: every round runs every contender once per case (A B C D, A B C D, ...), and
// figures are medians over rounds; ratios are medians of the per-round ratios (paired samples).
import { runLoad, failures, type LoadSummary } from './load.ts';
import { median, round } from './stats.ts';
import { treeCpuTimes, type CpuTimes } from './cpu.ts';

export interface LoadTarget {
  readonly label: string;
  readonly port: number;
  readonly host: string;
  /** Processes whose CPU time (with their children) is this contender's cost; empty: not measured. */
  readonly pids?: readonly number[];
  /** "https" for a TLS listener (default "http"). */
  readonly scheme?: 'http' | 'https';
}

/** One load run plus the contender's CPU microseconds per completed request (NaN: not measured). */
export interface Sample extends LoadSummary {
  readonly cpuUsPerReq: number;
  /** The user-space part of cpuUsPerReq (the rest is kernel time: syscalls, TCP). */
  readonly cpuUserUsPerReq: number;
}

export interface Case {
  readonly size: number;
  readonly connections: number;
}

export function caseLabel(c: Case): string {
  return `${c.size >= 1024 ? `${c.size / 1024} KiB` : `${c.size} B`}, ${c.connections} conns`;
}

export interface ContenderFigures {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  /** Median CPU microseconds per request of the contender's own processes. */
  readonly cpuUsPerReq: number;
  readonly cpuUserUsPerReq: number;
  readonly rounds: readonly Sample[];
}

export interface CaseFigures {
  readonly case: Case;
  readonly label: string;
  readonly contenders: Record<string, ContenderFigures>;
}

export interface CompareOptions {
  readonly rounds: number;
  readonly durationSec: number;
  readonly warmupSec: number;
  readonly log: (message: string) => void;
}

export async function compare(targets: readonly LoadTarget[], cases: readonly Case[], options: CompareOptions): Promise<CaseFigures[]> {
  if (options.warmupSec > 0) {
    for (const t of targets) {
      await runLoad({ url: `${t.scheme ?? 'http'}://127.0.0.1:${t.port}/b100`, host: t.host, connections: 50, durationSec: options.warmupSec });
    }
  }
  const samples = new Map<string, Sample[]>();
  const key = (c: Case, label: string): string => `${c.size}/${c.connections}/${label}`;
  for (let r = 0; r < options.rounds; r++) {
    for (const c of cases) {
      for (const t of targets) {
        const pids = t.pids ?? [];
        const sum = (): CpuTimes => pids.map(treeCpuTimes).reduce((a, b) => ({ user: a.user + b.user, sys: a.sys + b.sys }), { user: 0, sys: 0 });
        const before = sum();
        const load = await runLoad({ url: `${t.scheme ?? 'http'}://127.0.0.1:${t.port}/b${c.size}`, host: t.host, connections: c.connections, durationSec: options.durationSec });
        const after = sum();
        // NaN when not measured, or when a process of the tree went away during the run.
        const per = (ms: number): number => (pids.length && load.requests > 0 && ms >= 0 ? round((ms * 1000) / load.requests, 1) : Number.NaN);
        const s: Sample = { ...load, cpuUsPerReq: per(after.user + after.sys - before.user - before.sys), cpuUserUsPerReq: per(after.user - before.user) };
        const list = samples.get(key(c, t.label)) ?? [];
        list.push(s);
        samples.set(key(c, t.label), list);
        options.log(`  round ${r + 1}/${options.rounds}  ${caseLabel(c).padEnd(20)} ${t.label.padEnd(12)} ${Math.round(s.rps).toString().padStart(7)} req/s  p50 ${s.p50} ms  p99 ${s.p99} ms  failed ${failures(s)}${Number.isFinite(s.cpuUsPerReq) ? `  cpu ${s.cpuUsPerReq} us/req (user ${s.cpuUserUsPerReq})` : ''}`);
      }
    }
  }
  return cases.map((c) => {
    const contenders: Record<string, ContenderFigures> = {};
    for (const t of targets) {
      const rounds = samples.get(key(c, t.label)) ?? [];
      contenders[t.label] = {
        rps: round(median(rounds.map((s) => s.rps)), 0),
        p50: median(rounds.map((s) => s.p50)),
        p99: median(rounds.map((s) => s.p99)),
        errors: rounds.reduce((n, s) => n + failures(s), 0),
        cpuUsPerReq: round(median(rounds.map((s) => s.cpuUsPerReq)), 1),
        cpuUserUsPerReq: round(median(rounds.map((s) => s.cpuUserUsPerReq)), 1),
        rounds,
      };
    }
    return { case: c, label: caseLabel(c), contenders };
  });
}

/** Median over rounds of a/b for `metric` (paired by round); NaN when either side is missing. */
export function pairedRatio(figures: CaseFigures, a: string, b: string, metric: 'rps' | 'p99' | 'cpuUsPerReq' = 'rps'): number {
  const ra = figures.contenders[a]?.rounds;
  const rb = figures.contenders[b]?.rounds;
  if (!ra || !rb || ra.length === 0 || rb.length === 0) return Number.NaN;
  const n = Math.min(ra.length, rb.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) {
    const den = rb[i][metric];
    if (den > 0) ratios.push(ra[i][metric] / den);
  }
  return round(median(ratios), 3);
}
