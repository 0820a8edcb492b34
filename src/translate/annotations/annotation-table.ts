// THE annotation table: every annotation Switchyard reads, declared once with its key, parser,
// scope, default and doc line. Translate reads values through read-annotation.ts; the README's
// "Annotations" table is rendered from this list (annotation-doc.ts) and a test checks they match.
// Add new annotations HERE (and nowhere else), then regenerate the README table.

import {
  MAX_ANNOTATION_INT,
  parseBackendProtocol,
  parseBool,
  parseCookieName,
  parseCorsHeaders,
  parseCorsMethods,
  parseCorsOrigins,
  parseHeaderName,
  parseIntInRange,
  parseRedirectCode,
  parseRedirectUrl,
  parseRegex,
  parseRewriteTarget,
  parseSize,
  parseHeaderValue,
  parseSourceRanges,
  parseString,
  parseUpstreamVhost,
  parseTimeout,
  parseUrlPath,
  type AnnotationParser,
} from './parsers.ts';
import { parseCookiePath, parseHashBy, parseMaxAge, parseOneOf } from './balance-parsers.ts';

/**
 * Accepted prefixes, in precedence order: when the same key is set under both, the
 * `switchyard.dev/` value wins (and a differing value is reported as AnnotationPrefixConflict).
 */
export const ANNOTATION_PREFIXES = ['switchyard.dev/', 'nginx.ingress.kubernetes.io/'] as const;

/**
 * What an annotation applies to, as ingress-nginx's annotation metadata defines it:
 * 'ingress': every path of the Ingress it is set on; 'location': the paths it is set on;
 * 'server': the whole virtual host.
 */
export type AnnotationScope = 'ingress' | 'location' | 'server';

/**
 * How an annotation behaves when set on a canary Ingress:
 * 'canary': it configures the canary itself (canary-*);
 * 'kept': taken from the canary Ingress for the canary backend (load-balancing and affinity, as
 *         ingress-nginx does; see CANARY_KEPT_ANNOTATIONS);
 * 'ignored': the canary inherits the main route's behaviour; the value is ignored and reported.
 */
export type CanaryHandling = 'canary' | 'kept' | 'ignored';

export interface AnnotationSpec<T> {
  /** Key without prefix, e.g. "canary-weight". */
  readonly key: string;
  readonly parse: AnnotationParser<T>;
  readonly scope: AnnotationScope;
  readonly default: T;
  /** The accepted values, for the README ("integer 0..2147483647"). */
  readonly values: string;
  /** The default as the README shows it. */
  readonly defaultDoc: string;
  /** What happens when the value is invalid (after the InvalidAnnotation diagnostic). */
  readonly onInvalid: string;
  readonly onCanary: CanaryHandling;
  /** One line for the README. */
  readonly doc: string;
}

function spec<T>(s: AnnotationSpec<T>): AnnotationSpec<T> {
  return s;
}

// --- canary (issue 4) ------------------------------------------------------------------------

export const CANARY = spec<boolean>({
  key: 'canary',
  parse: parseBool,
  scope: 'ingress',
  default: false,
  values: '`"true"` / `"false"`',
  defaultDoc: '`false`',
  onInvalid: 'treated as `false`',
  onCanary: 'canary',
  doc: 'Marks the Ingress as a canary of the main Ingress route with the same host, path and pathType.',
});

export const CANARY_BY_HEADER = spec<string | null>({
  key: 'canary-by-header',
  parse: parseHeaderName,
  scope: 'ingress',
  default: null,
  values: 'header name (case-insensitive)',
  defaultDoc: 'none',
  onInvalid: 'no header rule (empty or invalid name)',
  onCanary: 'canary',
  doc: 'Header deciding per request: `always` -> canary, `never` -> not this canary, else fall through (unless -value or -pattern is set).',
});

export const CANARY_BY_HEADER_VALUE = spec<string>({
  key: 'canary-by-header-value',
  parse: parseString,
  scope: 'ingress',
  default: '',
  values: 'string (case-sensitive)',
  defaultDoc: 'none',
  onInvalid: '-',
  onCanary: 'canary',
  doc: 'With canary-by-header: the header equal to this value -> canary, anything else falls through. Wins over -pattern.',
});

export const CANARY_BY_HEADER_PATTERN = spec<string>({
  key: 'canary-by-header-pattern',
  parse: parseRegex,
  scope: 'ingress',
  default: '',
  values: 'JavaScript regular expression, unanchored',
  defaultDoc: 'none',
  onInvalid: 'requests carrying the header go to the main backend',
  onCanary: 'canary',
  doc: 'With canary-by-header and no -value: the header matching this pattern -> canary, no match falls through.',
});

export const CANARY_BY_COOKIE = spec<string | null>({
  key: 'canary-by-cookie',
  parse: parseCookieName,
  scope: 'ingress',
  default: null,
  values: 'cookie name',
  defaultDoc: 'none',
  onInvalid: 'no cookie rule',
  onCanary: 'canary',
  doc: 'Cookie deciding per request: `always` -> canary, `never` -> not this canary, else fall through.',
});

export const CANARY_WEIGHT = spec<number>({
  key: 'canary-weight',
  parse: parseIntInRange(0, MAX_ANNOTATION_INT),
  scope: 'ingress',
  default: 0,
  values: 'integer 0..canary-weight-total',
  defaultDoc: '`0`',
  onInvalid: 'weight 0 (no weighted traffic)',
  onCanary: 'canary',
  doc: 'Sends weight/total of the remaining requests to the canary; 0 never, >= total always.',
});

export const CANARY_WEIGHT_TOTAL = spec<number>({
  key: 'canary-weight-total',
  parse: parseIntInRange(1, MAX_ANNOTATION_INT),
  scope: 'ingress',
  default: 100,
  values: 'integer 1..2147483647',
  defaultDoc: '`100`',
  onInvalid: 'total 100',
  onCanary: 'canary',
  doc: 'The total canary-weight is a share of. Totals below 100 are honoured (ingress-nginx ignores them).',
});

/** Every canary annotation except `canary` itself: setting one on a non-canary Ingress is reported. */
export const CANARY_RULE_ANNOTATIONS = [
  CANARY_BY_HEADER,
  CANARY_BY_HEADER_VALUE,
  CANARY_BY_HEADER_PATTERN,
  CANARY_BY_COOKIE,
  CANARY_WEIGHT,
  CANARY_WEIGHT_TOTAL,
] as const;

// --- routing (read by translate/rules.ts) --------------------------------------------------------

export const USE_REGEX = spec<boolean>({
  key: 'use-regex',
  parse: parseBool,
  scope: 'ingress',
  default: false,
  values: '`"true"` / `"false"`',
  defaultDoc: '`false`',
  onInvalid: 'treated as `false`',
  onCanary: 'ignored',
  doc: 'The paths of this Ingress are regular expressions, and then every path of their hosts, from every Ingress, is matched as a case-insensitive regular expression anchored at the start, longest path first (ingress-nginx\'s rule; see Routing rules).',
});

// --- per-route behaviour (issue 7; read by translate/route-settings.ts, honoured by the proxy) --------

export const PROXY_CONNECT_TIMEOUT = spec<number | null>({
  key: 'proxy-connect-timeout',
  parse: parseTimeout,
  scope: 'location',
  default: null,
  values: 'seconds (`"5"`), or with a unit (`"500ms"`, `"5s"`, `"1m"`)',
  defaultDoc: '`--proxy-connect-timeout` (5s)',
  onInvalid: 'the controller default applies',
  onCanary: 'ignored',
  doc: 'Upstream connect timeout; 504 when exceeded.',
});

export const PROXY_READ_TIMEOUT = spec<number | null>({
  key: 'proxy-read-timeout',
  parse: parseTimeout,
  scope: 'location',
  default: null,
  values: 'seconds, or with a unit',
  defaultDoc: '`--proxy-read-timeout` (60s)',
  onInvalid: 'the controller default applies',
  onCanary: 'ignored',
  doc: 'Wait for the upstream response headers (504 when exceeded) and between response body chunks.',
});

export const PROXY_SEND_TIMEOUT = spec<number | null>({
  key: 'proxy-send-timeout',
  parse: parseTimeout,
  scope: 'location',
  default: null,
  values: 'seconds, or with a unit',
  defaultDoc: '`--proxy-send-timeout` (60s)',
  onInvalid: 'the controller default applies',
  onCanary: 'ignored',
  doc: 'Idle limit while sending the request body upstream (504 when exceeded).',
});

export const PROXY_BODY_SIZE = spec<number | null>({
  key: 'proxy-body-size',
  parse: parseSize,
  scope: 'location',
  default: null,
  values: 'size: bytes, or with `k`, `m`, `g` (`"8m"`); `"0"` = unlimited',
  defaultDoc: '`--proxy-body-size` (1m)',
  onInvalid: 'the controller default applies',
  onCanary: 'ignored',
  doc: 'Largest request body: 413 when Content-Length says more, or when a streamed body grows past it.',
});

export const PERMANENT_REDIRECT = spec<string | null>({
  key: 'permanent-redirect',
  parse: parseRedirectUrl,
  scope: 'location',
  default: null,
  values: 'absolute http(s) URL',
  defaultDoc: 'none',
  onInvalid: 'no redirect',
  onCanary: 'ignored',
  doc: 'Answers every request with a redirect to this URL (as written: the request path is not appended).',
});

export const PERMANENT_REDIRECT_CODE = spec<number>({
  key: 'permanent-redirect-code',
  parse: parseRedirectCode,
  scope: 'location',
  default: 301,
  values: 'integer 300..308',
  defaultDoc: '`301`',
  onInvalid: '301',
  onCanary: 'ignored',
  doc: 'Status code of permanent-redirect.',
});

export const TEMPORAL_REDIRECT = spec<string | null>({
  key: 'temporal-redirect',
  parse: parseRedirectUrl,
  scope: 'location',
  default: null,
  values: 'absolute http(s) URL',
  defaultDoc: 'none',
  onInvalid: 'no redirect',
  onCanary: 'ignored',
  doc: 'Like permanent-redirect with a temporary code; wins over permanent-redirect when both are set (as in ingress-nginx).',
});

export const TEMPORAL_REDIRECT_CODE = spec<number>({
  key: 'temporal-redirect-code',
  parse: parseRedirectCode,
  scope: 'location',
  default: 302,
  values: 'integer 300..308',
  defaultDoc: '`302`',
  onInvalid: '302',
  onCanary: 'ignored',
  doc: 'Status code of temporal-redirect.',
});

export const APP_ROOT = spec<string | null>({
  key: 'app-root',
  parse: parseUrlPath,
  scope: 'server',
  default: null,
  values: 'path starting with `/`',
  defaultDoc: 'none',
  onInvalid: 'no redirect',
  onCanary: 'ignored',
  doc: 'A request for exactly `/` on the Ingress\'s routes is redirected (302) to this path.',
});

export const REWRITE_TARGET = spec<string | null>({
  key: 'rewrite-target',
  parse: parseRewriteTarget,
  scope: 'ingress',
  default: null,
  values: 'path starting with `/`, with `$1`..`$9` for the captures of the path, optionally a query',
  defaultDoc: 'none',
  onInvalid: 'no rewrite',
  onCanary: 'ignored',
  doc: 'Makes the paths of this Ingress regular expressions (as use-regex does) and replaces the whole request path by this target when the path matches: `/api(/|$)(.*)` + `/$2` turns `/api/v1?q` into `/v1?q`; without captures everything becomes the target (`/api` + `/`: `/api/v1` -> `/`). The query is kept.',
});

export const SSL_REDIRECT = spec<boolean>({
  key: 'ssl-redirect',
  parse: parseBool,
  scope: 'location',
  default: true,
  values: '`"true"` / `"false"`',
  defaultDoc: '`true` (when the host has TLS)',
  onInvalid: 'treated as `true`',
  onCanary: 'ignored',
  doc: 'Plain-HTTP requests for a host listed in some Ingress\'s spec.tls are redirected (308) to https, except /.well-known/acme-challenge/.',
});

export const FORCE_SSL_REDIRECT = spec<boolean>({
  key: 'force-ssl-redirect',
  parse: parseBool,
  scope: 'location',
  default: false,
  values: '`"true"` / `"false"`',
  defaultDoc: '`false`',
  onInvalid: 'treated as `false`',
  onCanary: 'ignored',
  doc: 'Redirect plain-HTTP requests (308) to https even when the host has no TLS section (TLS terminated in front).',
});

export const BACKEND_PROTOCOL = spec<'HTTP' | 'HTTPS'>({
  key: 'backend-protocol',
  parse: parseBackendProtocol,
  scope: 'location',
  default: 'HTTP',
  values: '`HTTP`, `HTTPS`',
  defaultDoc: '`HTTP`',
  onInvalid: 'HTTP (GRPC, GRPCS, AUTO_HTTP, FCGI are not supported)',
  onCanary: 'ignored',
  doc: "How to talk to the upstream. `HTTPS`: TLS to the endpoint, its certificate NOT verified (like nginx's default proxy_ssl_verify off) and no SNI.",
});

export const PROXY_NEXT_UPSTREAM_TRIES = spec<number | null>({
  key: 'proxy-next-upstream-tries',
  parse: parseIntInRange(0, 100),
  scope: 'location',
  default: null,
  values: 'integer 0..100 (0 = every endpoint)',
  defaultDoc: '`--proxy-next-upstream-tries` (3)',
  onInvalid: 'the controller default applies',
  onCanary: 'ignored',
  doc: 'Attempts per request, the first included, when an endpoint cannot be connected to (or resets an idempotent request before answering); each retry goes to another endpoint. 1 = no retry.',
});

export const UPSTREAM_VHOST = spec<string | null>({
  key: 'upstream-vhost',
  parse: parseUpstreamVhost,
  scope: 'location',
  default: null,
  values: 'host name or address, optional `:port` (no nginx variables)',
  defaultDoc: 'none (the client\'s Host)',
  onInvalid: 'the client\'s Host is sent',
  onCanary: 'ignored',
  doc: 'The Host header the upstream receives instead of the client\'s (X-Forwarded-Host keeps the client\'s); for an ExternalName Service that serves its own name.',
});

export const X_FORWARDED_PREFIX = spec<string | null>({
  key: 'x-forwarded-prefix',
  parse: parseHeaderValue,
  scope: 'location',
  default: null,
  values: 'text (no nginx variables)',
  defaultDoc: 'none',
  onInvalid: 'no header',
  onCanary: 'ignored',
  doc: 'Sent upstream as X-Forwarded-Prefix (a client\'s own X-Forwarded-Prefix is always dropped); typically the prefix rewrite-target removed.',
});

const SOURCE_RANGE_VALUES = 'comma-separated CIDRs or addresses, IPv4 or IPv6 (`"10.0.0.0/8, 192.168.1.7"`)';

export const ALLOWLIST_SOURCE_RANGE = spec<readonly string[] | null>({
  key: 'allowlist-source-range',
  parse: parseSourceRanges,
  scope: 'location',
  default: null,
  values: SOURCE_RANGE_VALUES,
  defaultDoc: 'none (every client)',
  onInvalid: 'every request is refused (403), as ingress-nginx denies the location',
  onCanary: 'ignored',
  doc: 'Only clients whose address (the connection\'s peer) is in one of these ranges are served; others get 403. Wins over whitelist-source-range.',
});

export const WHITELIST_SOURCE_RANGE = spec<readonly string[] | null>({
  key: 'whitelist-source-range',
  parse: parseSourceRanges,
  scope: 'location',
  default: null,
  values: SOURCE_RANGE_VALUES,
  defaultDoc: 'none (every client)',
  onInvalid: 'every request is refused (403)',
  onCanary: 'ignored',
  doc: 'The older name of allowlist-source-range (ingress-nginx accepts both).',
});

export const DENYLIST_SOURCE_RANGE = spec<readonly string[] | null>({
  key: 'denylist-source-range',
  parse: parseSourceRanges,
  scope: 'location',
  default: null,
  values: SOURCE_RANGE_VALUES,
  defaultDoc: 'none',
  onInvalid: 'every request is refused (403)',
  onCanary: 'ignored',
  doc: 'Clients whose address is in one of these ranges get 403; checked before the allowlist (nginx\'s deny, then allow).',
});

// Rate limits: nginx's limit_req (leaky bucket, burst = limit x multiplier, nodelay) and
// limit_conn, one zone per Ingress keyed by the client address (src/proxy/rate-limit.ts).
export const LIMIT_RPS = spec<number | null>({
  key: 'limit-rps',
  parse: parseIntInRange(0, 1_000_000),
  scope: 'ingress',
  default: null,
  values: 'integer (requests per second per client address; `0` = off)',
  defaultDoc: 'none',
  onInvalid: 'no limit',
  onCanary: 'ignored',
  doc: 'Requests per second a client address may make to the Ingress\'s routes, with a burst of limit x limit-burst-multiplier served at once (nginx limit_req, nodelay); more get 503.',
});

export const LIMIT_RPM = spec<number | null>({
  key: 'limit-rpm',
  parse: parseIntInRange(0, 60_000_000),
  scope: 'ingress',
  default: null,
  values: 'integer (requests per minute per client address; `0` = off)',
  defaultDoc: 'none',
  onInvalid: 'no limit',
  onCanary: 'ignored',
  doc: 'Like limit-rps, per minute; when both are set, a request must pass both.',
});

export const LIMIT_CONNECTIONS = spec<number | null>({
  key: 'limit-connections',
  parse: parseIntInRange(0, 1_000_000),
  scope: 'ingress',
  default: null,
  values: 'integer (`0` = off)',
  defaultDoc: 'none',
  onInvalid: 'no limit',
  onCanary: 'ignored',
  doc: 'Requests (and WebSocket connections) a client address may have in progress at once on the Ingress\'s routes (nginx limit_conn); more get 503.',
});

export const LIMIT_BURST_MULTIPLIER = spec<number>({
  key: 'limit-burst-multiplier',
  parse: parseIntInRange(1, 1_000),
  scope: 'ingress',
  default: 5,
  values: 'integer >= 1',
  defaultDoc: '`5`',
  onInvalid: 'the default, 5',
  onCanary: 'ignored',
  doc: 'The burst of limit-rps and limit-rpm is the limit times this.',
});

// limit-allowlist and its older name limit-whitelist: the same annotation under two keys.
const LIMIT_EXEMPT = {
  parse: parseSourceRanges,
  scope: 'ingress',
  default: null,
  values: SOURCE_RANGE_VALUES,
  defaultDoc: 'none',
  onInvalid: 'no client is exempt',
  onCanary: 'ignored',
} as const;

export const LIMIT_ALLOWLIST = spec<readonly string[] | null>({
  ...LIMIT_EXEMPT,
  key: 'limit-allowlist',
  doc: 'Client addresses in these ranges are not rate-limited. Wins over limit-whitelist.',
});

export const LIMIT_WHITELIST = spec<readonly string[] | null>({ ...LIMIT_EXEMPT, key: 'limit-whitelist', doc: 'The older name of limit-allowlist.' });

// CORS, as ingress-nginx's CORS template: preflights (OPTIONS from an allowed origin) answered 204
// by the proxy, other responses get the Access-Control-* headers (src/compile/cors.ts).
export const ENABLE_CORS = spec<boolean>({
  key: 'enable-cors',
  parse: parseBool,
  scope: 'ingress',
  default: false,
  values: '`"true"` / `"false"`',
  defaultDoc: '`false`',
  onInvalid: 'treated as `false`',
  onCanary: 'ignored',
  doc: 'CORS: a preflight (OPTIONS) from an allowed origin is answered 204 by the proxy with the Access-Control-* headers; other responses to an allowed origin get them added (replacing the upstream\'s).',
});

export const CORS_ALLOW_ORIGIN = spec<readonly string[]>({
  key: 'cors-allow-origin',
  parse: parseCorsOrigins,
  scope: 'ingress',
  default: ['*'],
  values: '`*`, or comma-separated http(s) origins, each may start with `*.` (`https://*.example.com`)',
  defaultDoc: '`*`',
  onInvalid: 'no origin is allowed (no CORS headers)',
  onCanary: 'ignored',
  doc: 'Origins allowed (case-insensitive); the response names the request\'s Origin. `*`: every request, with or without Origin, gets `Access-Control-Allow-Origin: *`.',
});

export const CORS_ALLOW_METHODS = spec<string>({
  key: 'cors-allow-methods',
  parse: parseCorsMethods,
  scope: 'ingress',
  default: 'GET, PUT, POST, DELETE, PATCH, OPTIONS',
  values: 'comma-separated methods',
  defaultDoc: '`GET, PUT, POST, DELETE, PATCH, OPTIONS`',
  onInvalid: 'the default',
  onCanary: 'ignored',
  doc: 'Access-Control-Allow-Methods.',
});

export const CORS_ALLOW_HEADERS = spec<string>({
  key: 'cors-allow-headers',
  parse: parseCorsHeaders,
  scope: 'ingress',
  default: 'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization',
  values: 'comma-separated header names',
  defaultDoc: 'ingress-nginx\'s (`DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization`)',
  onInvalid: 'the default',
  onCanary: 'ignored',
  doc: 'Access-Control-Allow-Headers.',
});

export const CORS_EXPOSE_HEADERS = spec<string | null>({
  key: 'cors-expose-headers',
  parse: parseCorsHeaders,
  scope: 'ingress',
  default: null,
  values: 'comma-separated header names',
  defaultDoc: 'none',
  onInvalid: 'none',
  onCanary: 'ignored',
  doc: 'Access-Control-Expose-Headers.',
});

export const CORS_ALLOW_CREDENTIALS = spec<boolean>({
  key: 'cors-allow-credentials',
  parse: parseBool,
  scope: 'ingress',
  default: true,
  values: '`"true"` / `"false"`',
  defaultDoc: '`true`',
  onInvalid: '`true`',
  onCanary: 'ignored',
  doc: 'Sends `Access-Control-Allow-Credentials: true`.',
});

export const CORS_MAX_AGE = spec<number>({
  key: 'cors-max-age',
  parse: parseIntInRange(0, MAX_ANNOTATION_INT),
  scope: 'ingress',
  default: 1728000,
  values: 'seconds',
  defaultDoc: '`1728000` (20 days)',
  onInvalid: 'the default',
  onCanary: 'ignored',
  doc: 'Access-Control-Max-Age: how long browsers may cache a preflight answer.',
});

/** The per-route behaviour annotations (route-settings.ts). */
export const ROUTE_SETTING_ANNOTATIONS = [
  PROXY_CONNECT_TIMEOUT,
  PROXY_READ_TIMEOUT,
  PROXY_SEND_TIMEOUT,
  PROXY_BODY_SIZE,
  PERMANENT_REDIRECT,
  PERMANENT_REDIRECT_CODE,
  TEMPORAL_REDIRECT,
  TEMPORAL_REDIRECT_CODE,
  APP_ROOT,
  REWRITE_TARGET,
  SSL_REDIRECT,
  FORCE_SSL_REDIRECT,
  BACKEND_PROTOCOL,
  PROXY_NEXT_UPSTREAM_TRIES,
  UPSTREAM_VHOST,
  X_FORWARDED_PREFIX,
  ALLOWLIST_SOURCE_RANGE,
  WHITELIST_SOURCE_RANGE,
  DENYLIST_SOURCE_RANGE,
  LIMIT_RPS,
  LIMIT_RPM,
  LIMIT_CONNECTIONS,
  LIMIT_BURST_MULTIPLIER,
  LIMIT_ALLOWLIST,
  LIMIT_WHITELIST,
  ENABLE_CORS,
  CORS_ALLOW_ORIGIN,
  CORS_ALLOW_METHODS,
  CORS_ALLOW_HEADERS,
  CORS_EXPOSE_HEADERS,
  CORS_ALLOW_CREDENTIALS,
  CORS_MAX_AGE,
] as const;

// --- load balancing and session affinity (issue 8; read by translate/balance-settings.ts) --------

export const LOAD_BALANCE = spec<'round_robin' | 'ewma'>({
  key: 'load-balance',
  parse: parseOneOf(['round_robin', 'ewma'] as const),
  scope: 'location',
  default: 'round_robin',
  values: '`round_robin`, `ewma`',
  defaultDoc: '`round_robin`',
  onInvalid: 'round robin',
  onCanary: 'kept',
  doc: 'How the endpoint is chosen: round robin, or ewma (lowest response-time average x in-flight requests of two random endpoints). Per Service port: the first route in table order that sets it wins.',
});

export const UPSTREAM_HASH_BY = spec<string | null>({
  key: 'upstream-hash-by',
  parse: parseHashBy,
  scope: 'location',
  default: null,
  values: 'nginx variables and text: `$request_uri`, `$remote_addr`, `$host`, `$uri`, `$args`, `$http_<header>`, `$cookie_<name>`, `$arg_<name>`',
  defaultDoc: 'none',
  onInvalid: 'no hashing (load-balance applies)',
  onCanary: 'kept',
  doc: 'Consistent hashing of this key to an endpoint (a ring of virtual nodes: adding or removing one of N endpoints moves about 1/N of the keys). Wins over load-balance.',
});

export const AFFINITY = spec<'cookie' | null>({
  key: 'affinity',
  parse: parseOneOf(['cookie'] as const),
  scope: 'ingress',
  default: null,
  values: '`cookie`',
  defaultDoc: 'none',
  onInvalid: 'no affinity',
  onCanary: 'kept',
  doc: 'Session affinity: the first response sets a cookie naming the endpoint; later requests with it go to that endpoint while it is usable.',
});

export const AFFINITY_CANARY_BEHAVIOR = spec<'sticky' | 'legacy'>({
  key: 'affinity-canary-behavior',
  parse: parseOneOf(['sticky', 'legacy'] as const),
  scope: 'ingress',
  default: 'sticky',
  values: '`sticky`, `legacy`',
  defaultDoc: '`sticky`',
  onInvalid: '`sticky`',
  onCanary: 'kept',
  doc: 'sticky: a client pinned to the canary stays on it and a client pinned to the main backend skips the canary rules; legacy: independent, the canary sets no affinity cookie.',
});

export const SESSION_COOKIE_NAME = spec<string>({
  key: 'session-cookie-name',
  parse: parseCookieName,
  scope: 'ingress',
  default: 'INGRESSCOOKIE',
  values: 'cookie name',
  defaultDoc: '`INGRESSCOOKIE`',
  onInvalid: '`INGRESSCOOKIE`',
  onCanary: 'kept',
  doc: 'Name of the affinity cookie.',
});

export const SESSION_COOKIE_MAX_AGE = spec<number | null>({
  key: 'session-cookie-max-age',
  parse: parseMaxAge,
  scope: 'ingress',
  default: null,
  values: 'seconds',
  defaultDoc: 'none (session cookie)',
  onInvalid: 'a session cookie',
  onCanary: 'kept',
  doc: 'Max-Age of the affinity cookie.',
});

export const SESSION_COOKIE_PATH = spec<string | null>({
  key: 'session-cookie-path',
  parse: parseCookiePath,
  scope: 'ingress',
  default: null,
  values: 'path',
  defaultDoc: 'the route\'s path',
  onInvalid: 'the route\'s path',
  onCanary: 'kept',
  doc: 'Path attribute of the affinity cookie.',
});

/** The load-balancing and affinity annotations (balance-settings.ts). */
export const BALANCE_ANNOTATIONS = [
  LOAD_BALANCE,
  UPSTREAM_HASH_BY,
  AFFINITY,
  AFFINITY_CANARY_BEHAVIOR,
  SESSION_COOKIE_NAME,
  SESSION_COOKIE_MAX_AGE,
  SESSION_COOKIE_PATH,
] as const;

/** THE table. README order. */
export const ANNOTATIONS: readonly AnnotationSpec<unknown>[] = [CANARY, ...CANARY_RULE_ANNOTATIONS, USE_REGEX, ...ROUTE_SETTING_ANNOTATIONS, ...BALANCE_ANNOTATIONS];

/**
 * Annotations a canary Ingress keeps for its own backend (all others are inherited from the main
 * route), as ingress-nginx documents: load balancing and session affinity (BALANCE_ANNOTATIONS;
 * the ones Switchyard does not implement are reported as unsupported). Their table entries use
 * onCanary: 'kept' (a test checks).
 * A trailing "*" matches any key with that prefix.
 */
export const CANARY_KEPT_ANNOTATIONS: readonly string[] = [
  'load-balance',
  'upstream-hash-by',
  'upstream-hash-by-subset',
  'upstream-hash-by-subset-size',
  'affinity',
  'affinity-mode',
  'affinity-canary-behavior',
  'session-cookie-*',
];

/** True for a key (without prefix) a canary Ingress keeps, see CANARY_KEPT_ANNOTATIONS. */
export function isCanaryKeptAnnotation(key: string): boolean {
  for (const kept of CANARY_KEPT_ANNOTATIONS) {
    if (kept.endsWith('*') ? key.startsWith(kept.slice(0, -1)) : key === kept) return true;
  }
  return false;
}
