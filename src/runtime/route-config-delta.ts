// A compact RouteConfig delta for the workers (README "All cores: `--workers`"): what changed
// from the generation a worker already has to the next one. translate shares unchanged virtual
// hosts and upstreams by identity, so "changed" is "not the very same object": found with one Map
// per list, no deep comparison. Each list is rebuilt as runs copied from the previous list plus
// the new items, in the new order, so removals and reorders come out exact. The worker's patched
// config reuses its previous objects, which is what lets compile({ previous }) reuse their
// compiled hosts and upstreams.
import type { RouteConfig } from '../model/route-config.ts';

/**
 * The next list as pieces in order: `[start, count]` = that many items copied from the previous
 * list at `start`; an object = a new or changed item.
 */
export type ListDelta<T extends object> = readonly (readonly [number, number] | T)[];

export interface RouteConfigDelta {
  readonly virtualHosts: ListDelta<RouteConfig['virtualHosts'][number]>;
  readonly upstreams: ListDelta<RouteConfig['upstreams'][number]>;
  /** Absent when the config has none (as in RouteConfig). */
  readonly certificates?: ListDelta<NonNullable<RouteConfig['certificates']>[number]>;
  readonly defaultBackend: RouteConfig['defaultBackend'];
  readonly defaultCertificate?: RouteConfig['defaultCertificate'];
}

/** The pieces that turn `previous` into `next`, copying every item of `previous` kept by identity. */
export function diffList<T extends object>(previous: readonly T[], next: readonly T[]): ListDelta<T> {
  const indexOf = new Map<T, number>();
  for (let i = 0; i < previous.length; i++) indexOf.set(previous[i]!, i);
  const pieces: (readonly [number, number] | T)[] = [];
  let runStart = -1;
  let runCount = 0;
  for (const item of next) {
    const at = indexOf.get(item);
    // 1. Kept item right after the current run: extend it. 2. Kept elsewhere: close the run, start
    // one there. 3. New or changed: close the run, send the item.
    if (at !== undefined && runCount > 0 && at === runStart + runCount) {
      runCount++;
      continue;
    }
    if (runCount > 0) pieces.push([runStart, runCount]);
    runCount = 0;
    if (at !== undefined) {
      runStart = at;
      runCount = 1;
    } else {
      pieces.push(item);
    }
  }
  if (runCount > 0) pieces.push([runStart, runCount]);
  return pieces;
}

/** The next list from `previous` and its pieces; throws on a run outside `previous` (a mismatched base). */
export function applyList<T extends object>(previous: readonly T[], pieces: ListDelta<T>): T[] {
  const out: T[] = [];
  for (const piece of pieces) {
    if (!Array.isArray(piece)) {
      out.push(piece as T);
      continue;
    }
    const [start, count] = piece as readonly [number, number];
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 1 || start + count > previous.length) {
      throw new RangeError(`delta run [${start}, ${count}] outside the previous list (${previous.length} items)`);
    }
    for (let i = start; i < start + count; i++) out.push(previous[i]!);
  }
  return out;
}

export function diffRouteConfig(previous: RouteConfig, next: RouteConfig): RouteConfigDelta {
  return {
    virtualHosts: diffList(previous.virtualHosts, next.virtualHosts),
    upstreams: diffList(previous.upstreams, next.upstreams),
    ...(next.certificates !== undefined ? { certificates: diffList(previous.certificates ?? [], next.certificates) } : {}),
    defaultBackend: next.defaultBackend,
    ...(next.defaultCertificate !== undefined ? { defaultCertificate: next.defaultCertificate } : {}),
  };
}

/** The config `delta` was built for, from the one it was built against. */
export function applyRouteConfigDelta(previous: RouteConfig, delta: RouteConfigDelta): RouteConfig {
  return {
    virtualHosts: applyList(previous.virtualHosts, delta.virtualHosts),
    defaultBackend: delta.defaultBackend,
    upstreams: applyList(previous.upstreams, delta.upstreams),
    ...(delta.certificates !== undefined ? { certificates: applyList(previous.certificates ?? [], delta.certificates) } : {}),
    ...(delta.defaultCertificate !== undefined ? { defaultCertificate: delta.defaultCertificate } : {}),
  };
}
