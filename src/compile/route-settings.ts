// Route behaviour from the IR (RouteSettings, set by annotations) in the shape the proxy reads per
// request: every field always present (one hidden class), "inherit the server's value" as -1, and
// one shared frozen object for routes that set nothing, so the common case costs one field check.
import { BlockList } from 'node:net';
import type { RouteSettings } from '../model/route-config.ts';
import { rateLimitZone, type RateLimitZone } from '../proxy/rate-limit.ts';
import { CompiledCors } from './cors.ts';

export class CompiledRouteSettings {
  /** Upstream connect timeout, ms; -1 = the server's (--proxy-connect-timeout). */
  readonly connectTimeout: number;
  /** Response header wait and body idle timeout, ms; -1 = the server's. */
  readonly readTimeout: number;
  /** Request body send idle timeout, ms; -1 = the server's. */
  readonly sendTimeout: number;
  /** Largest request body, bytes; 0 = unlimited; -1 = the server's (--proxy-body-size). */
  readonly maxBodyBytes: number;
  /** Redirect every request: status (0 = none) and Location. */
  readonly redirectCode: number;
  readonly redirectLocation: string;
  /** Plain-HTTP requests are redirected (308) to https (except ACME HTTP-01 challenges). */
  readonly sslRedirect: boolean;
  /** A request for exactly "/" is redirected (302) here; null = none. */
  readonly appRoot: string | null;
  /** True when a redirect, app-root or ssl-redirect may answer before forwarding. */
  readonly mayRedirect: boolean;
  /** backend-protocol HTTPS: TLS to the endpoints. */
  readonly backendHttps: boolean;
  /** Attempts per request (proxy-next-upstream-tries; 0 there = every endpoint -> a large number); 0 = the server's. */
  readonly tries: number;
  /** The route needs its own upstream pools (connect timeout or HTTPS): route-policy.ts poolFor(). */
  readonly ownPools: boolean;
  /** upstream-vhost: the Host sent upstream; null = the client's. */
  readonly upstreamVhost: string | null;
  /** x-forwarded-prefix: X-Forwarded-Prefix sent upstream; null = none. */
  readonly forwardedPrefix: string | null;
  /** allowlist-source-range: only these client addresses are served (empty: none); null = all. */
  readonly sourceAllow: SourceRanges | null;
  /** denylist-source-range: these client addresses get 403; null = none. */
  readonly sourceDeny: SourceRanges | null;
  /** limit-rps / limit-rpm / limit-connections: the Ingress's zone (shared by its routes); null = none. */
  readonly rateLimit: RateLimitZone | null;
  /** enable-cors; null = off. */
  readonly cors: CompiledCors | null;

  constructor(settings: RouteSettings) {
    this.connectTimeout = settings.connectTimeoutMs ?? -1;
    this.readTimeout = settings.readTimeoutMs ?? -1;
    this.sendTimeout = settings.sendTimeoutMs ?? -1;
    this.maxBodyBytes = settings.maxBodyBytes ?? -1;
    this.redirectCode = settings.redirect?.code ?? 0;
    this.redirectLocation = settings.redirect?.location ?? '';
    this.sslRedirect = settings.sslRedirect === true;
    this.appRoot = settings.appRoot ?? null;
    this.mayRedirect = this.redirectCode !== 0 || this.sslRedirect || this.appRoot !== null;
    this.backendHttps = settings.backendProtocol === 'HTTPS';
    this.tries = settings.nextUpstreamTries === undefined ? 0 : settings.nextUpstreamTries === 0 ? 1_000_000 : settings.nextUpstreamTries;
    this.ownPools = this.connectTimeout >= 0 || this.backendHttps;
    this.upstreamVhost = settings.upstreamVhost ?? null;
    this.forwardedPrefix = settings.forwardedPrefix ?? null;
    this.sourceAllow = settings.allowSourceRanges === undefined ? null : new SourceRanges(settings.allowSourceRanges);
    this.sourceDeny = settings.denySourceRanges === undefined ? null : new SourceRanges(settings.denySourceRanges);
    this.rateLimit = settings.rateLimit === undefined ? null : rateLimitZone(settings.rateLimit);
    this.cors = settings.cors === undefined ? null : new CompiledCors(settings.cors);
  }
}

/**
 * Address ranges of one family each, like nginx's allow/deny rules: an IPv4 client is matched against
 * the IPv4 ranges only (node's BlockList alone would also match it against IPv6 ranges through
 * IPv4-mapped addresses, so that "::/0" took in every IPv4 client). Built by node's BlockList (a C++
 * matcher) from "address/prefix" ranges, validated by translate.
 */
export class SourceRanges {
  readonly #v4 = new BlockList();
  readonly #v6 = new BlockList();

  constructor(ranges: readonly string[]) {
    for (const range of ranges) {
      const slash = range.lastIndexOf('/');
      const address = range.slice(0, slash);
      const prefix = Number(range.slice(slash + 1));
      if (address.includes(':')) this.#v6.addSubnet(address, prefix, 'ipv6');
      else this.#v4.addSubnet(address, prefix, 'ipv4');
    }
  }

  /** `address`: a client address, IPv4-mapped IPv6 already unmapped (headers.ts clientAddress). */
  has(address: string): boolean {
    return address.includes(':') ? this.#v6.check(address, 'ipv6') : this.#v4.check(address, 'ipv4');
  }
}

/** Routes without annotations share this one. */
export const DEFAULT_ROUTE_SETTINGS: CompiledRouteSettings = Object.freeze(new CompiledRouteSettings({}));

// Routes of one Ingress share one RouteSettings object in the IR: compile it once.
const cache = new WeakMap<RouteSettings, CompiledRouteSettings>();

export function compileRouteSettings(settings: RouteSettings | undefined): CompiledRouteSettings {
  if (settings === undefined) return DEFAULT_ROUTE_SETTINGS;
  let compiled = cache.get(settings);
  if (compiled === undefined) cache.set(settings, (compiled = Object.freeze(new CompiledRouteSettings(settings))));
  return compiled;
}
