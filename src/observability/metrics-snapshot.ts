// What a process contributes to a /metrics scrape besides its prom-client registry: the per-route
// accumulators and the per-upstream ejection/retry counts, as plain JSON-safe data (arrays and
// numbers), so that with --workers N the primary can ask each worker for one over the cluster IPC
// channel at scrape time and render the merged result (src/runtime/worker-metrics.ts). Nothing
// here runs per request.
//
// Merging is exact: counters, histogram buckets, sums and counts are added per label set (same
// series key, same method x status cell), which is what one process serving all the traffic would
// have counted, since every process uses the same accumulator layout (route-metrics.ts).

import type { RouteTable } from '../compile/route-table.ts';
import type { PassiveHealth } from '../proxy/passive-health.ts';
import { RouteCell, RouteSeries, type RouteSeriesLabels, type RouteSeriesOptions } from './route-metrics.ts';

/** One method x status cell: [cell key, method index, status, requests, accumulator data]. */
export type CellSnapshot = [number, number, number, number, number[]];

export interface SeriesSnapshot {
  readonly key: string;
  readonly labels: RouteSeriesLabels;
  readonly compatLabels: RouteSeriesLabels | null;
  readonly cells: readonly CellSnapshot[];
}

/** The ejection/retry state of one upstream in one process. */
export interface UpstreamSnapshot {
  readonly key: string;
  readonly ejections: number;
  readonly retries: number;
  /** Origins of this upstream's endpoints ejected right now. */
  readonly ejected: readonly string[];
}

export interface MetricsSnapshot {
  readonly series: readonly SeriesSnapshot[];
  readonly upstreams: readonly UpstreamSnapshot[];
}

/** Live series as plain data. Series without any cell are left out (they render nothing). */
export function snapshotSeries(series: readonly RouteSeries[]): SeriesSnapshot[] {
  const out: SeriesSnapshot[] = [];
  for (const s of series) {
    if (s.cells.size === 0) continue;
    const cells: CellSnapshot[] = [];
    for (const c of s.cells.values()) cells.push([c.key, c.method, c.status, c.requests, Array.from(c.data)]);
    out.push({ key: s.key, labels: s.labels, compatLabels: s.compatLabels, cells });
  }
  return out;
}

/**
 * The upstreams of the table being served, with their counts and the endpoints ejected now. Reads
 * `ejectedUntil` without clearing expired ejections (a scrape changes no state).
 */
export function snapshotUpstreams(table: RouteTable, health: PassiveHealth | null): UpstreamSnapshot[] {
  const out: UpstreamSnapshot[] = [];
  const now = health === null ? 0 : health.now();
  for (const upstream of table.upstreams.values()) {
    const counts = health?.counts.get(upstream.key);
    const ejected: string[] = [];
    if (health !== null) {
      for (const e of upstream.endpoints) if (e.health !== null && e.health.ejectedUntil !== 0 && now < e.health.ejectedUntil) ejected.push(e.origin);
    }
    out.push({ key: upstream.key, ejections: counts?.ejections ?? 0, retries: counts?.retries ?? 0, ejected });
  }
  return out;
}

/**
 * `local` (this process's live series, in rendering order) plus the series of every snapshot, added
 * per series key and cell. Returns new RouteSeries objects: the live accumulators are not touched.
 * A series only a worker has (its table is a generation ahead or behind) is rendered too, as that
 * worker would render it.
 */
export function mergeSeries(local: readonly RouteSeries[], remote: readonly (readonly SeriesSnapshot[])[], options: RouteSeriesOptions): RouteSeries[] {
  const merged = new Map<string, RouteSeries>();
  const seriesFor = (key: string, labels: RouteSeriesLabels, compat: RouteSeriesLabels | null): RouteSeries => {
    let s = merged.get(key);
    if (s === undefined) merged.set(key, (s = new RouteSeries(key, labels, compat, options)));
    return s;
  };
  const add = (s: RouteSeries, key: number, method: number, status: number, requests: number, data: ArrayLike<number>): void => {
    let cell = s.cells.get(key);
    if (cell === undefined) s.cells.set(key, (cell = new RouteCell(key, method, status)));
    cell.requests += requests;
    const into = cell.data;
    const n = Math.min(into.length, data.length);
    for (let i = 0; i < n; i++) into[i] += data[i];
  };
  for (const s of local) {
    const into = seriesFor(s.key, s.labels, s.compatLabels);
    for (const c of s.cells.values()) add(into, c.key, c.method, c.status, c.requests, c.data);
  }
  for (const snapshot of remote) {
    for (const s of snapshot) {
      const into = seriesFor(s.key, s.labels, s.compatLabels);
      for (const [key, method, status, requests, data] of s.cells) add(into, key, method, status, requests, data);
    }
  }
  return [...merged.values()];
}

/** Merged per-upstream counts; `ejected` is the number of distinct endpoints ejected in any process. */
export interface UpstreamTotals {
  readonly key: string;
  ejections: number;
  retries: number;
  readonly ejected: Set<string>;
}

/** Counts added per upstream key, ejected endpoints united; in first-seen order. */
export function mergeUpstreams(snapshots: readonly (readonly UpstreamSnapshot[])[]): UpstreamTotals[] {
  const merged = new Map<string, UpstreamTotals>();
  for (const snapshot of snapshots) {
    for (const u of snapshot) {
      let t = merged.get(u.key);
      if (t === undefined) merged.set(u.key, (t = { key: u.key, ejections: 0, retries: 0, ejected: new Set() }));
      t.ejections += u.ejections;
      t.retries += u.retries;
      for (const origin of u.ejected) t.ejected.add(origin);
    }
  }
  return [...merged.values()];
}

/** Structural check of a snapshot received over IPC (a bad one is skipped, never rendered). */
export function isMetricsSnapshot(value: unknown): value is MetricsSnapshot {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { series?: unknown; upstreams?: unknown };
  return Array.isArray(v.series) && Array.isArray(v.upstreams);
}
