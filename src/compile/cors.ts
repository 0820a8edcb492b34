// enable-cors as ingress-nginx's CORS template has nginx do it, decided per request from the
// request's Origin: with cors-allow-origin "*" every request counts (Access-Control-Allow-Origin:
// *), else only an Origin matching the list (case-insensitive; "*." stands for one label). For such
// a request an OPTIONS is a preflight, answered 204 by the proxy; any other response gets the
// Access-Control-* headers, replacing the upstream's. Built once per route settings.
import type { Cors } from '../model/route-config.ts';

/** The response headers CORS sets (lower-case), which an upstream's own copies give way to. */
const CORS_HEADER_NAMES: ReadonlySet<string> = new Set([
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-expose-headers',
  'access-control-max-age',
]);

export class CompiledCors {
  /** null: any origin ("*"). */
  readonly #origins: RegExp | null;
  /** Every origin is allowed and answered with "*". */
  readonly #any: boolean;
  /** The headers after Access-Control-Allow-Origin, as name/value pairs. */
  readonly #rest: readonly string[];

  constructor(cors: Cors) {
    this.#any = cors.origins.length === 1 && cors.origins[0] === '*';
    // Anchored at both ends (ingress-nginx anchors the end only); [] (invalid list) matches nothing.
    this.#origins = this.#any ? null : new RegExp(`^(?:${cors.origins.map(originPattern).join('|') || '(?!)'})$`, 'i');
    const rest: string[] = [];
    if (cors.allowCredentials) rest.push('access-control-allow-credentials', 'true');
    rest.push('access-control-allow-methods', cors.allowMethods, 'access-control-allow-headers', cors.allowHeaders);
    if (cors.exposeHeaders !== '') rest.push('access-control-expose-headers', cors.exposeHeaders);
    rest.push('access-control-max-age', String(cors.maxAgeSeconds));
    this.#rest = rest;
  }

  /** The Access-Control-Allow-Origin value for a request's Origin header, or null: no CORS for it. */
  allowOrigin(origin: string | null): string | null {
    if (this.#any) return '*';
    return origin !== null && this.#origins!.test(origin) ? origin : null;
  }

  /** The CORS headers for an allowed request, as name/value pairs. */
  headers(allowOrigin: string): string[] {
    return ['access-control-allow-origin', allowOrigin, ...this.#rest];
  }

  /** Response headers `out` (name/value pairs) without the upstream's CORS headers, then ours. */
  applyTo(out: string[], allowOrigin: string): void {
    let w = 0;
    for (let i = 0; i < out.length; i += 2) {
      if (CORS_HEADER_NAMES.has(out[i].toLowerCase())) continue;
      out[w++] = out[i];
      out[w++] = out[i + 1];
    }
    out.length = w;
    out.push('access-control-allow-origin', allowOrigin, ...this.#rest);
  }
}

/** One allowed origin as a pattern: literal, except one "*" that stands for a DNS label. */
function originPattern(origin: string): string {
  return origin.replace(/[.*+?^${}()|[\]\\/-]/g, (c) => (c === '*' ? '*' : '\\' + c)).replace('*', '[A-Za-z0-9-]+');
}
