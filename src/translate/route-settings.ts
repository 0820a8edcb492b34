// The per-route behaviour annotations of one Ingress -> RouteSettings (see the model), and the
// report of annotations Switchyard does not implement. Pure.
//
// ssl-redirect depends on every Ingress (a host "has TLS" when any owned Ingress lists it in
// spec.tls), so it is decided in two steps: readIngressSettings() keeps the Ingress's choice,
// withSslRedirect() applies it once translate knows the TLS hosts.
import type { Diagnostic } from '../model/diagnostic.ts';
import type { ObjectRef } from '../model/kube.ts';
import type { RateLimit, Route, RouteSettings } from '../model/route-config.ts';
import {
  ALLOWLIST_SOURCE_RANGE,
  ANNOTATIONS,
  DENYLIST_SOURCE_RANGE,
  ANNOTATION_PREFIXES,
  APP_ROOT,
  BACKEND_PROTOCOL,
  CORS_ALLOW_CREDENTIALS,
  CORS_ALLOW_HEADERS,
  CORS_ALLOW_METHODS,
  CORS_ALLOW_ORIGIN,
  CORS_EXPOSE_HEADERS,
  CORS_MAX_AGE,
  ENABLE_CORS,
  FORCE_SSL_REDIRECT,
  LIMIT_ALLOWLIST,
  LIMIT_BURST_MULTIPLIER,
  LIMIT_CONNECTIONS,
  LIMIT_RPM,
  LIMIT_RPS,
  LIMIT_WHITELIST,
  PERMANENT_REDIRECT,
  PERMANENT_REDIRECT_CODE,
  PROXY_BODY_SIZE,
  PROXY_CONNECT_TIMEOUT,
  PROXY_NEXT_UPSTREAM_TRIES,
  PROXY_READ_TIMEOUT,
  PROXY_SEND_TIMEOUT,
  REWRITE_TARGET,
  SSL_REDIRECT,
  TEMPORAL_REDIRECT,
  TEMPORAL_REDIRECT_CODE,
  UPSTREAM_VHOST,
  WHITELIST_SOURCE_RANGE,
  X_FORWARDED_PREFIX,
  type AnnotationSpec,
} from './annotations/annotation-table.ts';
import { hasAnnotation, readAnnotation, type Annotations } from './annotations/read-annotation.ts';

/** How plain-HTTP requests of an Ingress's routes are redirected to https. */
export type SslRedirectMode = 'force' | 'if-tls' | 'never';

export interface IngressSettings {
  /** Everything but sslRedirect; undefined when nothing is set. */
  readonly settings: RouteSettings | undefined;
  readonly sslRedirect: SslRedirectMode;
}

/** Reads the behaviour annotations of one (main) Ingress. Problems go to `diagnostics`. */
export function readIngressSettings(annotations: Annotations, object: ObjectRef, diagnostics: Diagnostic[]): IngressSettings {
  const settings: { -readonly [K in keyof RouteSettings]: RouteSettings[K] } = {};
  let any = false;
  const connect = readAnnotation(PROXY_CONNECT_TIMEOUT, annotations, object, diagnostics);
  if (connect !== null) (settings.connectTimeoutMs = connect), (any = true);
  const read = readAnnotation(PROXY_READ_TIMEOUT, annotations, object, diagnostics);
  if (read !== null) (settings.readTimeoutMs = read), (any = true);
  const send = readAnnotation(PROXY_SEND_TIMEOUT, annotations, object, diagnostics);
  if (send !== null) (settings.sendTimeoutMs = send), (any = true);
  const body = readAnnotation(PROXY_BODY_SIZE, annotations, object, diagnostics);
  if (body !== null) (settings.maxBodyBytes = body), (any = true);

  // temporal-redirect wins over permanent-redirect, as in ingress-nginx.
  const temporal = readAnnotation(TEMPORAL_REDIRECT, annotations, object, diagnostics);
  const permanent = readAnnotation(PERMANENT_REDIRECT, annotations, object, diagnostics);
  if (temporal !== null) {
    settings.redirect = { code: readAnnotation(TEMPORAL_REDIRECT_CODE, annotations, object, diagnostics), location: temporal };
    any = true;
    if (permanent !== null) {
      diagnostics.push({
        severity: 'warning',
        object,
        reason: 'RedirectConflict',
        message: 'both temporal-redirect and permanent-redirect are set; temporal-redirect wins',
      });
    }
  } else if (permanent !== null) {
    settings.redirect = { code: readAnnotation(PERMANENT_REDIRECT_CODE, annotations, object, diagnostics), location: permanent };
    any = true;
  } else {
    // Validate a lone -code anyway, so a typo is reported.
    if (hasAnnotation(annotations, TEMPORAL_REDIRECT_CODE.key)) readAnnotation(TEMPORAL_REDIRECT_CODE, annotations, object, diagnostics);
    if (hasAnnotation(annotations, PERMANENT_REDIRECT_CODE.key)) readAnnotation(PERMANENT_REDIRECT_CODE, annotations, object, diagnostics);
  }

  const appRoot = readAnnotation(APP_ROOT, annotations, object, diagnostics);
  if (appRoot !== null) (settings.appRoot = appRoot), (any = true);
  const rewrite = readAnnotation(REWRITE_TARGET, annotations, object, diagnostics);
  if (rewrite !== null) (settings.rewriteTarget = rewrite), (any = true);

  const tries = readAnnotation(PROXY_NEXT_UPSTREAM_TRIES, annotations, object, diagnostics);
  if (tries !== null) (settings.nextUpstreamTries = tries), (any = true);
  if (readAnnotation(BACKEND_PROTOCOL, annotations, object, diagnostics) === 'HTTPS') (settings.backendProtocol = 'HTTPS'), (any = true);

  const vhost = readAnnotation(UPSTREAM_VHOST, annotations, object, diagnostics);
  if (vhost !== null) (settings.upstreamVhost = vhost), (any = true);
  const prefix = readAnnotation(X_FORWARDED_PREFIX, annotations, object, diagnostics);
  if (prefix !== null) (settings.forwardedPrefix = prefix), (any = true);

  // Source ranges fail closed: an invalid value refuses every client (as ingress-nginx denies the
  // location) rather than opening what the annotation was meant to protect.
  const allowKey = hasAnnotation(annotations, ALLOWLIST_SOURCE_RANGE.key) ? ALLOWLIST_SOURCE_RANGE : WHITELIST_SOURCE_RANGE;
  if (allowKey === ALLOWLIST_SOURCE_RANGE && hasAnnotation(annotations, WHITELIST_SOURCE_RANGE.key)) {
    diagnostics.push({
      severity: 'warning',
      object,
      reason: 'AnnotationConflict',
      message: 'both allowlist-source-range and whitelist-source-range are set; allowlist-source-range wins',
    });
  }
  const allow = readSourceRanges(allowKey, annotations, object, diagnostics);
  if (allow !== null) (settings.allowSourceRanges = allow), (any = true);
  const deny = readSourceRanges(DENYLIST_SOURCE_RANGE, annotations, object, diagnostics);
  if (deny !== null) (settings.denySourceRanges = deny), (any = true);

  if (readAnnotation(ENABLE_CORS, annotations, object, diagnostics)) {
    settings.cors = {
      origins: readCorsOrigins(annotations, object, diagnostics),
      allowMethods: readAnnotation(CORS_ALLOW_METHODS, annotations, object, diagnostics),
      allowHeaders: readAnnotation(CORS_ALLOW_HEADERS, annotations, object, diagnostics),
      exposeHeaders: readAnnotation(CORS_EXPOSE_HEADERS, annotations, object, diagnostics) ?? '',
      allowCredentials: readAnnotation(CORS_ALLOW_CREDENTIALS, annotations, object, diagnostics),
      maxAgeSeconds: readAnnotation(CORS_MAX_AGE, annotations, object, diagnostics),
    };
    any = true;
  } else {
    // cors-* without enable-cors do nothing; say so.
    for (const spec of [CORS_ALLOW_ORIGIN, CORS_ALLOW_METHODS, CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS, CORS_ALLOW_CREDENTIALS, CORS_MAX_AGE]) {
      if (hasAnnotation(annotations, spec.key)) {
        diagnostics.push({ severity: 'warning', object, reason: 'CorsNotEnabled', message: `annotation ${spec.key} has no effect without enable-cors: "true"` });
      }
    }
  }
  const rateLimit = readRateLimit(annotations, object, diagnostics);
  if (rateLimit !== null) (settings.rateLimit = rateLimit), (any = true);

  const force = readAnnotation(FORCE_SSL_REDIRECT, annotations, object, diagnostics);
  const ssl = readAnnotation(SSL_REDIRECT, annotations, object, diagnostics);
  return { settings: any ? settings : undefined, sslRedirect: force ? 'force' : ssl ? 'if-tls' : 'never' };
}

/** cors-allow-origin; an invalid list allows no origin (fail closed; ingress-nginx falls back to "*"). */
function readCorsOrigins(annotations: Annotations, object: ObjectRef, diagnostics: Diagnostic[]): readonly string[] {
  const reported = diagnostics.length;
  const origins = readAnnotation(CORS_ALLOW_ORIGIN, annotations, object, diagnostics);
  const invalid = diagnostics.slice(reported).some((d) => d.reason === 'InvalidAnnotation');
  return invalid ? [] : origins;
}

/** limit-rps / limit-rpm / limit-connections with their burst and allowlist, or null when none is on. */
function readRateLimit(annotations: Annotations, object: ObjectRef, diagnostics: Diagnostic[]): RateLimit | null {
  const rps = readAnnotation(LIMIT_RPS, annotations, object, diagnostics) ?? 0;
  const rpm = readAnnotation(LIMIT_RPM, annotations, object, diagnostics) ?? 0;
  const connections = readAnnotation(LIMIT_CONNECTIONS, annotations, object, diagnostics) ?? 0;
  const multiplier = readAnnotation(LIMIT_BURST_MULTIPLIER, annotations, object, diagnostics);
  const allowKey = hasAnnotation(annotations, LIMIT_ALLOWLIST.key) ? LIMIT_ALLOWLIST : LIMIT_WHITELIST;
  if (allowKey === LIMIT_ALLOWLIST && hasAnnotation(annotations, LIMIT_WHITELIST.key)) {
    diagnostics.push({ severity: 'warning', object, reason: 'AnnotationConflict', message: 'both limit-allowlist and limit-whitelist are set; limit-allowlist wins' });
  }
  const allowRanges = readAnnotation(allowKey, annotations, object, diagnostics) ?? [];
  if (rps === 0 && rpm === 0 && connections === 0) return null;
  return { zone: `${object.namespace}/${object.name}`, rps, rpsBurst: rps * multiplier, rpm, rpmBurst: rpm * multiplier, connections, allowRanges };
}

/** A source-range annotation: its ranges, [] when set but invalid (refuse all), null when unset. */
function readSourceRanges(spec: AnnotationSpec<readonly string[] | null>, annotations: Annotations, object: ObjectRef, diagnostics: Diagnostic[]): readonly string[] | null {
  if (!hasAnnotation(annotations, spec.key)) return null;
  return readAnnotation(spec, annotations, object, diagnostics) ?? [];
}

/** The hosts that have TLS: exact names and wildcards from every owned Ingress's spec.tls. */
export class TlsHosts {
  readonly #exact = new Set<string>();
  /** Wildcards without their "*" (".example.com"). */
  readonly #wildcard = new Set<string>();

  add(host: string): void {
    const h = host.toLowerCase();
    if (h.startsWith('*.')) this.#wildcard.add(h.slice(1));
    else this.#exact.add(h);
  }

  /** True when a virtual host ("shop.example.com", "*.example.com"; never "*") has TLS. */
  has(host: string): boolean {
    if (host === '*') return false;
    if (this.#exact.has(host)) return true;
    if (host.startsWith('*.')) return this.#wildcard.has(host.slice(1));
    const dot = host.indexOf('.');
    return dot > 0 && this.#wildcard.has(host.slice(dot));
  }
}

// Route -> the same route with sslRedirect: built once per (memoized) Route object, so an unchanged
// Ingress yields the very same Route objects from one translate to the next (structural sharing).
const redirected = new WeakMap<Route, Route>();

/** The route with sslRedirect decided (the same object when nothing changes). */
export function withSslRedirect(route: Route, mode: SslRedirectMode, tlsHosts: TlsHosts): Route {
  if (mode === 'never' || (mode === 'if-tls' && !tlsHosts.has(route.host))) return route;
  let out = redirected.get(route);
  if (out === undefined) redirected.set(route, (out = { ...route, settings: { ...route.settings, sslRedirect: true } }));
  return out;
}

/** Keys (without prefix) translate reads outside the table. */
const OTHER_KNOWN_KEYS: ReadonlySet<string> = new Set([]);

const KNOWN_KEYS: ReadonlySet<string> = new Set([...ANNOTATIONS.map((spec) => spec.key), ...OTHER_KNOWN_KEYS]);

/**
 * Reports (warning UnsupportedAnnotation, one per key) every annotation under one of our prefixes
 * that Switchyard does not implement: it is not silently ignored. The message starts with
 * "annotation <full key>" (the metrics read the key from there).
 */
export function reportUnsupportedAnnotations(annotations: Annotations, object: ObjectRef, diagnostics: Diagnostic[]): void {
  if (annotations === undefined || annotations === null || typeof annotations !== 'object') return;
  for (const full of Object.keys(annotations)) {
    for (const prefix of ANNOTATION_PREFIXES) {
      if (!full.startsWith(prefix)) continue;
      const key = full.slice(prefix.length);
      if (KNOWN_KEYS.has(key)) break;
      diagnostics.push({
        severity: 'warning',
        object,
        reason: 'UnsupportedAnnotation',
        message: `annotation ${full} is not supported by Switchyard; it has no effect`,
      });
      break;
    }
  }
}
