// Total orders used by translate. Every sort goes through one of these so the output never depends
// on input order, locale or engine details (plain code-unit string comparison, never localeCompare).
import type { Diagnostic } from '../model/diagnostic.ts';
import type { Route, VirtualHost } from '../model/route-config.ts';

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareNumbers(a: number, b: number): number {
  return a - b;
}

/**
 * What decides between Ingresses (route conflicts, default backends, canary order): the oldest
 * creationTimestamp first, a missing or unparsable timestamp after every present one, then
 * namespace, then name.
 */
export interface IngressAge {
  /** creationTimestamp in epoch milliseconds, or null when missing or unparsable. */
  readonly createdAt: number | null;
  readonly namespace: string;
  readonly name: string;
}

/** Parses an RFC 3339 creationTimestamp (pure: parsing, not reading a clock). */
export function parseCreationTimestamp(value: string | undefined): number | null {
  if (value === undefined || value === '') return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

export function compareIngressAge(a: IngressAge, b: IngressAge): number {
  if (a.createdAt !== b.createdAt) {
    if (a.createdAt === null) return 1;
    if (b.createdAt === null) return -1;
    return a.createdAt - b.createdAt;
  }
  return compareStrings(a.namespace, b.namespace) || compareStrings(a.name, b.name);
}

const HOST_KIND_RANK = { exact: 0, wildcard: 1, any: 2 } as const;

/** Exact hosts (alphabetical), then wildcard hosts (alphabetical), then "*". */
export function compareVirtualHosts(a: VirtualHost, b: VirtualHost): number {
  return HOST_KIND_RANK[a.kind] - HOST_KIND_RANK[b.kind] || compareStrings(a.host, b.host);
}

/**
 * Match precedence inside a virtual host: longer matchPath first; at equal length Exact before
 * Prefix; then the path as written, then the route name. The first route that matches wins.
 */
export function compareRoutes(a: Route, b: Route): number {
  return (
    b.matchPath.length - a.matchPath.length ||
    (a.match === b.match ? 0 : a.match === 'exact' ? -1 : 1) ||
    compareStrings(a.path, b.path) ||
    compareStrings(a.name, b.name)
  );
}

/** By object (kind, namespace, name), then reason, then message. */
export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return (
    compareStrings(a.object.kind, b.object.kind) ||
    compareStrings(a.object.namespace, b.object.namespace) ||
    compareStrings(a.object.name, b.object.name) ||
    compareStrings(a.reason, b.reason) ||
    compareStrings(a.message, b.message) ||
    compareStrings(a.severity, b.severity)
  );
}
