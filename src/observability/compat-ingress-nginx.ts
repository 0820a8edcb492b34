// --metrics-compat ingress-nginx: the same per-route accumulators rendered under ingress-nginx's
// metric names, labels and default buckets (internal/ingress/metric/collectors/socket.go and
// pkg/flags/flags.go in kubernetes/ingress-nginx), plus the controller metrics its dashboards use.
// Rendering happens at scrape time only; the request path records once for both views.

import type { ExpositionWriter } from './exposition.ts';
import { boundIndexes, formatLabels } from './exposition.ts';
import type { RouteSeries } from './route-metrics.ts';
import {
  ACC_SIZE_BOUNDS, ACC_TIME_BOUNDS, H_REQUEST_DURATION, H_REQUEST_SIZE, H_RESPONSE_SIZE, H_UPSTREAM_CONNECT,
  H_UPSTREAM_RESPONSE, HISTOGRAM_OFFSETS, METHODS, NGINX_LENGTH_BUCKETS, NGINX_TIME_BUCKETS,
} from './route-metrics.ts';

export const NGINX_PREFIX = 'nginx_ingress_controller_';

export interface IngressNginxCompatOptions {
  /** controller_namespace: POD_NAMESPACE of the controller. */
  readonly controllerNamespace: string;
  /** controller_class: the IngressClass controller value (ingress-nginx: "k8s.io/ingress-nginx"). */
  readonly controllerClass: string;
  /** controller_pod: POD_NAME of the controller. */
  readonly controllerPod: string;
}

/** Controller state the compat view exposes (ingress-nginx "reload" metrics map to table swaps). */
export interface CompatControllerState {
  /** 1 when the last table build succeeded (ingress-nginx: last reload successful). */
  readonly lastBuildSuccessful: boolean;
  /** Unix seconds of the last successful swap, 0 before the first. */
  readonly lastSwapTimestampSeconds: number;
  readonly swaps: number;
  readonly buildFailures: number;
  readonly leader: boolean;
  /** Leader election (Lease) name, the `name` label of leader_election_status. */
  readonly electionId: string;
}

const TIME_RENDER = boundIndexes(ACC_TIME_BOUNDS, NGINX_TIME_BUCKETS);
const LENGTH_RENDER = boundIndexes(ACC_SIZE_BOUNDS, NGINX_LENGTH_BUCKETS);

interface HistogramFamily {
  readonly name: string;
  readonly help: string;
  readonly histogram: number;
  readonly bounds: Float64Array;
  readonly render: readonly number[];
}

// Help strings as ingress-nginx has them (including its request_duration "milliseconds" slip: the
// values are seconds there as here).
const HISTOGRAM_FAMILIES: readonly HistogramFamily[] = [
  { name: `${NGINX_PREFIX}request_duration_seconds`, help: 'The request processing time in milliseconds', histogram: H_REQUEST_DURATION, bounds: ACC_TIME_BOUNDS, render: TIME_RENDER },
  { name: `${NGINX_PREFIX}response_duration_seconds`, help: 'The time spent on receiving the response from the upstream server', histogram: H_UPSTREAM_RESPONSE, bounds: ACC_TIME_BOUNDS, render: TIME_RENDER },
  { name: `${NGINX_PREFIX}connect_duration_seconds`, help: 'The time spent on establishing a connection with the upstream server', histogram: H_UPSTREAM_CONNECT, bounds: ACC_TIME_BOUNDS, render: TIME_RENDER },
  { name: `${NGINX_PREFIX}request_size`, help: 'The request length (including request line, header, and request body)', histogram: H_REQUEST_SIZE, bounds: ACC_SIZE_BOUNDS, render: LENGTH_RENDER },
  { name: `${NGINX_PREFIX}response_size`, help: 'The response length (including request line, header, and request body)', histogram: H_RESPONSE_SIZE, bounds: ACC_SIZE_BOUNDS, render: LENGTH_RENDER },
];

/**
 * Label string of one cell, in client_golang's order (sorted by label name):
 * canary, controller_class, controller_namespace, controller_pod, host, ingress, method, namespace,
 * path, service, status.
 */
function cellLabels(series: RouteSeries, method: number, status: string, options: IngressNginxCompatOptions): string {
  const l = series.compatLabels!;
  return formatLabels([
    ['canary', l.canary],
    ['controller_class', options.controllerClass],
    ['controller_namespace', options.controllerNamespace],
    ['controller_pod', options.controllerPod],
    ['host', l.host],
    ['ingress', l.ingress],
    ['method', METHODS[method]],
    ['namespace', l.namespace],
    ['path', l.path],
    ['service', l.service],
    ['status', status],
  ]);
}

/**
 * Render the ingress-nginx families. Series without compat labels (requests that matched no route,
 * default backends) are left out, like ingress-nginx's default server with
 * --metrics-per-undefined-host=false.
 */
export function* renderIngressNginx(
  w: ExpositionWriter,
  series: readonly RouteSeries[],
  options: IngressNginxCompatOptions,
  controller: CompatControllerState,
): Generator<void> {
  // 1. Per-route families: the label string of each cell is built once per scrape and reused by
  //    the counter and the five histograms.
  const rows: { labels: string; data: Float64Array; requests: number }[] = [];
  for (const s of series) {
    if (s.compatLabels === null) continue;
    for (const cell of s.cells.values()) {
      rows.push({ labels: cellLabels(s, cell.method, s.statusLabel(cell), options), data: cell.data, requests: cell.requests });
    }
  }
  const requests = w.family(`${NGINX_PREFIX}requests`, 'counter', 'The total number of client requests');
  for (const row of rows) {
    w.sample(requests, row.labels, row.requests);
    if (w.full) yield;
  }
  for (const f of HISTOGRAM_FAMILIES) {
    w.family(f.name, 'histogram', f.help);
    const offset = HISTOGRAM_OFFSETS[f.histogram];
    const n = f.bounds.length;
    for (const row of rows) {
      if (row.data[offset + n + 2] === 0) continue; // never observed (e.g. no upstream contacted)
      w.histogram(f.name, row.labels, row.data, offset, f.bounds, f.render);
      if (w.full) yield;
    }
  }

  // 2. Controller families: a table swap is Switchyard's "reload" (there is no nginx reload).
  const constant = formatLabels([
    ['controller_class', options.controllerClass],
    ['controller_namespace', options.controllerNamespace],
    ['controller_pod', options.controllerPod],
  ]);
  const ok = w.family(`${NGINX_PREFIX}config_last_reload_successful`, 'gauge', 'Whether the last configuration reload attempt was successful');
  w.sample(ok, constant, controller.lastBuildSuccessful ? 1 : 0);
  const ts = w.family(`${NGINX_PREFIX}config_last_reload_successful_timestamp_seconds`, 'gauge', 'Timestamp of the last successful configuration reload.');
  w.sample(ts, constant, controller.lastSwapTimestampSeconds);
  const success = w.family(`${NGINX_PREFIX}success`, 'counter', 'Cumulative number of Ingress controller reload operations');
  w.sample(success, constant, controller.swaps);
  const errors = w.family(`${NGINX_PREFIX}errors`, 'counter', 'Cumulative number of Ingress controller errors during reload operations');
  w.sample(errors, constant, controller.buildFailures);
  const leader = w.family(`${NGINX_PREFIX}leader_election_status`, 'gauge', 'Gauge reporting status of the leader election, 0 indicates follower, 1 indicates leader. \'name\' is the string used to identify the lease');
  w.sample(leader, formatLabels([
    ['controller_class', options.controllerClass],
    ['controller_namespace', options.controllerNamespace],
    ['controller_pod', options.controllerPod],
    ['name', controller.electionId],
  ]), controller.leader ? 1 : 0);
}
