// A deliberately simple reading of the RouteConfig matching rules (the comments in
// src/model/route-config.ts), used only to check that the .requests.yaml expectations agree with
// the .out.yaml golden files. The real matcher is compile(); test/compile/ runs the same
// expectations through it.
import type { RouteConfig, VirtualHost } from '../../src/model/route-config.ts';

export interface Decision {
  readonly route: string | null;
  readonly upstream: string | null;
}

/** Host header -> lower case, without port. */
export function normalizeHost(host: string): string {
  const h = host.toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end === -1 ? h : h.slice(0, end + 1);
  }
  const colon = h.lastIndexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

/** Request target -> path without query, dot segments resolved, duplicate slashes merged. */
export function normalizePath(target: string): string {
  let path = target;
  const q = path.search(/[?#]/);
  if (q !== -1) path = path.slice(0, q);
  const out: string[] = [];
  const parts = path.split('/');
  let trailingSlash = false;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    const last = i === parts.length - 1;
    if (part === '' || part === '.') {
      if (last) trailingSlash = true;
      continue;
    }
    if (part === '..') {
      out.pop();
      if (last) trailingSlash = true;
      continue;
    }
    out.push(part);
  }
  if (out.length === 0) return '/';
  return '/' + out.join('/') + (trailingSlash ? '/' : '');
}

function findVirtualHost(config: RouteConfig, host: string): VirtualHost | undefined {
  const exact = config.virtualHosts.find((v) => v.kind === 'exact' && v.host === host);
  if (exact !== undefined) return exact;
  const dot = host.indexOf('.');
  if (dot > 0) {
    const wildcard = config.virtualHosts.find((v) => v.kind === 'wildcard' && v.host === '*' + host.slice(dot));
    if (wildcard !== undefined) return wildcard;
  }
  return config.virtualHosts.find((v) => v.kind === 'any');
}

export function decide(config: RouteConfig, hostHeader: string, target: string): Decision {
  const vhost = findVirtualHost(config, normalizeHost(hostHeader));
  const path = normalizePath(target);
  if (vhost !== undefined) {
    for (const route of vhost.routes) {
      const hit =
        route.match === 'regex'
          ? new RegExp(route.matchPath, 'i').test(path)
          : route.match === 'exact'
            ? path === route.matchPath
            : route.matchPath === '/' || path === route.matchPath || path.startsWith(route.matchPath + '/');
      if (hit) return { route: route.name, upstream: route.backend.upstream };
    }
    if (vhost.defaultBackend !== null) return { route: null, upstream: vhost.defaultBackend.upstream };
  }
  return { route: null, upstream: config.defaultBackend?.upstream ?? null };
}
