// Read-only debug views of the live route table, served on the admin port:
//   /debug/routes  the table being served: generation, virtual hosts, routes, canaries, upstreams
//                  with their endpoints (what compile built, from the RouteConfig it compiled)
//   /debug/match   ?host=..&path=..&header=Name:Value (repeatable)&cookie=name=value (repeatable)
//                  which virtual host and route a request would get, the canary decision and the
//                  endpoint set, using the table's own matcher and compiled canary rule (nothing is
//                  re-implemented here, so the answer is what the proxy would do).
// Both read routeRef.current once per call. They expose internal topology (Services, pod IPs):
// the admin port must never be reachable from outside the cluster.

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { RouteTable } from '../compile/route-table.ts';
import type { CompiledUpstream } from '../compile/compiled-upstream.ts';
import { parseRequestTarget } from '../compile/path.ts';
import type { BackendRef, CanaryBackend, Route } from '../model/route-config.ts';
import type { RouteRef } from '../runtime/route-ref.ts';

function backendView(backend: BackendRef | null): object | null {
  if (backend === null) return null;
  const s = backend.service;
  return { service: s === null ? null : `${s.namespace}/${s.name}:${s.port}`, upstream: backend.upstream };
}

function canaryView(c: CanaryBackend): object {
  return {
    name: c.name,
    source: `${c.source.namespace}/${c.source.name}`,
    backend: backendView(c.backend),
    header: c.header,
    cookie: c.cookie,
    weight: c.weight,
    weightTotal: c.weightTotal,
  };
}

function routeView(r: Route): object {
  return {
    name: r.name,
    source: `${r.source.namespace}/${r.source.name}`,
    path: r.path,
    pathType: r.pathType,
    match: r.match,
    matchPath: r.matchPath,
    backend: backendView(r.backend),
    canaries: r.canaries.map(canaryView),
  };
}

function upstreamView(u: CompiledUpstream): object {
  return {
    key: u.key,
    namespace: u.namespace,
    service: u.service,
    servicePort: u.servicePort,
    endpoints: u.endpoints.map((e) => ({ address: e.address, port: e.port, ready: e.ready, serving: e.serving, terminating: e.terminating })),
    /** What round robin rotates over: ready endpoints, else serving+terminating ones, else none (503). */
    candidates: u.candidates.map((e) => `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}`),
  };
}

/** The /debug/routes document for a table. */
export function describeTable(table: RouteTable, version: number): object {
  const config = table.config;
  return {
    generation: table.generation,
    version,
    virtualHosts: config.virtualHosts.map((vh) => ({
      host: vh.host,
      kind: vh.kind,
      defaultBackend: backendView(vh.defaultBackend),
      routes: vh.routes.map(routeView),
    })),
    defaultBackend: backendView(config.defaultBackend),
    upstreams: [...table.upstreams.values()].map(upstreamView),
  };
}

export interface MatchResult {
  /** HTTP status of the debug answer itself (400 for a bad query). */
  readonly status: number;
  readonly body: object;
}

/**
 * /debug/match: what the proxy would do with a request to `host` + `path` carrying `headers`.
 * `header` params are "Name: Value"; `cookie` params are "name=value" (sent as one Cookie header).
 */
export function matchRequest(table: RouteTable, version: number, query: URLSearchParams): MatchResult {
  const host = query.get('host');
  const rawPath = query.get('path') ?? '/';
  if (host === null || host === '') return { status: 400, body: { error: 'the host parameter is required: /debug/match?host=example.com&path=/x' } };
  const headers: IncomingHttpHeaders = { host };
  for (const h of query.getAll('header')) {
    const colon = h.indexOf(':');
    if (colon <= 0) return { status: 400, body: { error: `header must be "Name: Value", got ${JSON.stringify(h)}` } };
    const name = h.slice(0, colon).trim().toLowerCase();
    const value = h.slice(colon + 1).trim();
    const before = headers[name];
    headers[name] = before === undefined ? value : `${String(before)}, ${value}`;
  }
  const cookies = query.getAll('cookie');
  if (cookies.length > 0) headers.cookie = cookies.join('; ');

  // The proxy's own request-target parsing and normalization.
  const target = parseRequestTarget(rawPath.startsWith('/') ? rawPath : `/${rawPath}`);
  if (target === null) {
    return { status: 200, body: { generation: table.generation, version, request: { host, path: rawPath }, status: 400, reason: 'the path is invalid (for example ".." above the root): the proxy answers 400' } };
  }
  const vhost = table.findVirtualHost(host);
  const route = table.find(host, target.path);
  const base = {
    generation: table.generation,
    version,
    request: { host, path: rawPath, normalizedPath: target.path, headers },
    virtualHost: vhost === undefined ? null : { host: vhost.host, kind: vhost.kind },
  };
  if (route === undefined) {
    return { status: 200, body: { ...base, route: null, status: 404, reason: 'no virtual host, route or default backend matches: the proxy answers 404' } };
  }
  const routeInfo = {
    name: route.name,
    kind: route.kind,
    host: route.host,
    path: route.path,
    match: route.match,
    source: route.source === null ? null : `${route.source.namespace}/${route.source.name}`,
    backend: backendView(route.backend),
  };
  // The compiled canary rule decides exactly as it would per request (a weighted draw is random).
  const rule = route.canaryRule;
  let canary: object | null = null;
  let upstream = route.upstream;
  let servedBy: BackendRef = route.backend;
  if (rule !== null) {
    const chosen = rule.decide(headers);
    canary = {
      decision: chosen === null ? 'main' : chosen.label,
      route: chosen?.name ?? null,
      note: 'header and cookie rules are deterministic; a weight-based decision is one random draw',
      canaries: route.canaries.map(canaryView),
    };
    if (chosen !== null) {
      servedBy = chosen.backend;
      upstream = chosen.upstream;
    }
  } else if (route.canaries.length > 0) {
    canary = { decision: 'main', note: 'no canary of this route can serve (no resolvable backend or ready endpoint)', canaries: route.canaries.map(canaryView) };
  }
  const upstreamInfo = upstream === null ? null : upstreamView(upstream);
  const status = upstream === null ? 503 : upstream.candidates.length === 0 ? 503 : 200;
  const reason = upstream === null
    ? 'the backend could not be resolved (missing Service or port): the proxy answers 503'
    : upstream.candidates.length === 0 ? 'no ready endpoint: the proxy answers 503' : 'forwarded to one of the candidate endpoints (round robin)';
  return { status: 200, body: { ...base, route: routeInfo, canary, backend: backendView(servedBy), upstream: upstreamInfo, status, reason } };
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

export type AdminHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** node:http handlers for the admin server's path map. */
export function createDebugHandlers(routeRef: RouteRef<RouteTable>): { readonly routes: AdminHandler; readonly match: AdminHandler } {
  return {
    routes(_req, res) {
      const table = routeRef.current;
      sendJson(res, 200, describeTable(table, routeRef.version));
    },
    match(req, res) {
      const table = routeRef.current;
      const url = new URL(req.url ?? '/', 'http://admin.invalid');
      const result = matchRequest(table, routeRef.version, url.searchParams);
      sendJson(res, result.status, result.body);
    },
  };
}
