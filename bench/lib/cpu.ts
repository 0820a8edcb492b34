// CPU time of processes from /proc (utime + stime, all threads): the cost per request of a
// contender, far less sensitive to a noisy neighbour than req/s.
import { readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

export interface CpuTimes {
  readonly user: number;
  readonly sys: number;
}

/** User and system CPU ms used so far by `pid` (0 when it is gone). */
export function cpuTimes(pid: number): CpuTimes {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" of comm: state is field 3; utime is 14 and stime 15 (1-based).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(rest[11]) * TICK_MS, sys: Number(rest[12]) * TICK_MS };
  } catch {
    return { user: 0, sys: 0 };
  }
}

/** CPU ms (user + system) used so far by `pid`. */
export function cpuMs(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.sys;
}

/** Direct children of `pid` (nginx workers under their master). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A process and its children, summed. */
export function treeCpuTimes(pid: number): CpuTimes {
  let user = 0;
  let sys = 0;
  for (const p of [pid, ...childrenOf(pid)]) {
    const t = cpuTimes(p);
    user += t.user;
    sys += t.sys;
  }
  return { user, sys };
}
