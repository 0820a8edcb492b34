// Builds RouteConfig IR by hand for compile and proxy tests (translate has its own fixtures).
import type { BackendRef, Endpoint, Route, RouteConfig, Upstream, VirtualHost } from '../../src/model/route-config.ts';

export interface RouteSpec {
  readonly path: string;
  /** Default Prefix. */
  readonly type?: 'Exact' | 'Prefix' | 'ImplementationSpecific';
  /** Upstream key ("ns/svc:80") or null for an unresolved backend. */
  readonly upstream: string | null;
  readonly name?: string;
}

export interface HostSpec {
  readonly host: string;
  readonly routes: readonly RouteSpec[];
  readonly defaultBackend?: string | null;
}

export interface UpstreamSpec {
  readonly key: string;
  readonly endpoints: readonly (Partial<Endpoint> & { address: string; port: number })[];
}

export function backend(key: string | null): BackendRef {
  if (key === null) return { service: { namespace: 'default', name: 'missing', port: 80 }, upstream: null };
  const [nsName, port] = key.split(':');
  const [namespace, name] = nsName.split('/');
  return { service: { namespace, name, port: Number(port) }, upstream: key };
}

function matchPathOf(path: string, match: 'exact' | 'prefix'): string {
  if (match === 'exact' || path === '/') return path;
  return path.endsWith('/') ? path.slice(0, -1) : path;
}

/** Route precedence as the IR defines it: longer matchPath first, Exact before Prefix, then path, then name. */
function byPrecedence(a: Route, b: Route): number {
  if (a.matchPath.length !== b.matchPath.length) return b.matchPath.length - a.matchPath.length;
  if (a.match !== b.match) return a.match === 'exact' ? -1 : 1;
  if (a.path !== b.path) return a.path < b.path ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function routeConfig(spec: {
  hosts: readonly HostSpec[];
  upstreams?: readonly UpstreamSpec[];
  defaultBackend?: string | null;
  /** Keep routes in the given order instead of sorting by precedence. */
  unsorted?: boolean;
}): RouteConfig {
  const virtualHosts: VirtualHost[] = spec.hosts.map((h, hi) => {
    const kind = h.host === '*' ? 'any' : h.host.startsWith('*.') ? 'wildcard' : 'exact';
    const routes: Route[] = h.routes.map((r, ri) => {
      const type = r.type ?? 'Prefix';
      const match = type === 'Exact' ? 'exact' : 'prefix';
      return {
        name: r.name ?? `ingress/default/test/rule/${hi}/path/${ri}`,
        source: { kind: 'Ingress', namespace: 'default', name: 'test' },
        host: h.host,
        path: r.path,
        pathType: type,
        match,
        matchPath: matchPathOf(r.path, match),
        backend: backend(r.upstream),
        canaries: [],
      } as Route;
    });
    if (!spec.unsorted) routes.sort(byPrecedence);
    return {
      host: h.host,
      kind,
      routes,
      defaultBackend: h.defaultBackend === undefined || h.defaultBackend === null ? null : backend(h.defaultBackend),
    } as VirtualHost;
  });
  const upstreams: Upstream[] = (spec.upstreams ?? []).map((u) => {
    const b = backend(u.key);
    return {
      key: u.key,
      namespace: b.service!.namespace,
      service: b.service!.name,
      servicePort: Number(b.service!.port),
      endpoints: u.endpoints.map((e) => ({
        address: e.address,
        port: e.port,
        ready: e.ready ?? true,
        serving: e.serving ?? e.ready ?? true,
        terminating: e.terminating ?? false,
      })),
    };
  });
  return {
    virtualHosts,
    defaultBackend: spec.defaultBackend === undefined || spec.defaultBackend === null ? null : backend(spec.defaultBackend),
    upstreams,
  };
}
