import type { ObjectRef, PathType } from './kube.ts';
import type { Diagnostic } from './diagnostic.ts';

/**
 * The intermediate representation translate() produces: plain, sorted, serializable (golden files
 * are this object as YAML) and knowing where each piece came from. compile() turns it into a RouteTable.
 */
export interface RouteConfig {
  /**
   * Virtual hosts, sorted: exact hosts (alphabetical), then wildcard hosts (alphabetical), then the
   * any-host entry "*" (rules without a host) last. A request is matched against ONE virtual host,
   * the most specific one for its Host header; it does not fall back to a less specific host.
   */
  readonly virtualHosts: readonly VirtualHost[];
  /**
   * Used when no virtual host matches, or the chosen virtual host has no matching route and no
   * default of its own: the oldest owned Ingress's spec.defaultBackend, else --default-backend-service,
   * else null (404).
   */
  readonly defaultBackend: BackendRef | null;
  /** Every upstream any route or default refers to, sorted by key. */
  readonly upstreams: readonly Upstream[];
  /**
   * Certificates from the kubernetes.io/tls Secrets named in spec.tls of the owned Ingresses, sorted
   * by Secret; absent when there are none. A host is served by at most one (the oldest Ingress
   * listing it wins); hosts without a usable certificate get the default one.
   */
  readonly certificates?: readonly TlsCertificate[];
  /** --default-ssl-certificate, when set and valid; else the proxy's generated self-signed one. */
  readonly defaultCertificate?: TlsCertificate;
}

/** A certificate and key from a Secret, and the hosts it serves (src/translate/tls.ts). */
export interface TlsCertificate {
  /** The Secret, "namespace/name". */
  readonly secret: string;
  /** Exact ("shop.example.com") and wildcard ("*.example.com") hosts, sorted; empty for the default. */
  readonly hosts: readonly string[];
  /** PEM certificate chain (tls.crt). */
  readonly certificate: string;
  /** PEM private key (tls.key). */
  readonly key: string;
  /** Expiry of the leaf certificate, Unix seconds (set when TranslateOptions.checkCertificate ran). */
  readonly notAfter?: number;
}

export interface VirtualHost {
  /** Lower-case host ("shop.example.com"), wildcard ("*.example.com"), or "*" for rules without host. */
  readonly host: string;
  readonly kind: 'exact' | 'wildcard' | 'any';
  /**
   * Routes in match precedence: longer (normalized) path first; at equal length Exact before Prefix;
   * then path string, then route name. The first route that matches a request wins. On a regex host
   * (some path of it is a regular expression: use-regex or rewrite-target) every route is 'regex',
   * in ingress-nginx's order instead: path length, then path string, both descending, then Ingress
   * order (src/translate/regex-paths.ts).
   */
  readonly routes: readonly Route[];
  /** spec.defaultBackend of the (oldest) Ingress that contributes rules to this host, if any. */
  readonly defaultBackend: BackendRef | null;
}

export interface Route {
  /** Stable hierarchical name: "ingress/<ns>/<name>/rule/<i>/path/<j>". */
  readonly name: string;
  readonly source: ObjectRef;
  /** The host as it appears on the virtual host ("*" when the rule has none). */
  readonly host: string;
  /** The path as written in the Ingress ("/" when omitted). */
  readonly path: string;
  readonly pathType: PathType;
  /**
   * What compile matches on: 'exact' compares the whole normalized request path to `matchPath`;
   * 'prefix' matches when the request path equals `matchPath` or continues it with "/" (element-wise).
   * ImplementationSpecific is treated as Prefix. 'regex' (every route of a regex host): `matchPath`
   * is a JavaScript regular expression, matched case-insensitively against the normalized path.
   */
  readonly match: 'exact' | 'prefix' | 'regex';
  /**
   * Path used for matching: for prefix, the path without trailing "/" ("/" stays "/"); for regex,
   * the pattern ("^" + the path; "^" + the path + "/" for a Prefix path that has an Exact twin).
   */
  readonly matchPath: string;
  readonly backend: BackendRef;
  /** Canary backends attached to this route, in evaluation order (see CanaryBackend). */
  readonly canaries: readonly CanaryBackend[];
  /**
   * Behaviour set by the Ingress's annotations (timeouts, body size, redirects, rewrite); absent
   * when the Ingress sets none, so the route follows the controller's flags.
   */
  readonly settings?: RouteSettings;
  /** load-balance / upstream-hash-by / affinity of the Ingress; absent: round robin. */
  readonly balance?: RouteBalance;
}

/**
 * How the endpoint of an upstream is chosen (src/translate/balance-settings.ts; README
 * "Resilience"). Applies per upstream: when several routes using one Service port set it, the first
 * route in table order that sets it wins (ingress-nginx: per backend too). A canary Ingress keeps
 * its own (CanaryBackend.balance) for the canary's upstream.
 */
export interface RouteBalance {
  /** load-balance: "round_robin" (default) or "ewma" (least latency x load, power of two choices). */
  readonly policy: 'round_robin' | 'ewma';
  /**
   * upstream-hash-by: an nginx-style template ("$request_uri", "$remote_addr", "$http_x_user",
   * "$cookie_session", "$arg_id", literal text); consistent hashing. Wins over `policy`.
   */
  readonly hashBy?: string;
  /** affinity: cookie. Wins over hashBy and policy for requests carrying a valid cookie. */
  readonly affinity?: CookieAffinity;
}

export interface CookieAffinity {
  /** session-cookie-name (default INGRESSCOOKIE). */
  readonly cookieName: string;
  /** session-cookie-max-age in seconds, or null: a session cookie. */
  readonly maxAgeSeconds: number | null;
  /** session-cookie-path, or null: the route's path. */
  readonly path: string | null;
  /**
   * affinity-canary-behavior: "sticky" (default): a client pinned to the canary stays on it, a
   * client pinned to the main backend skips the canary rules; "legacy": independent (the canary
   * sets no affinity cookie).
   */
  readonly canaryBehavior: 'sticky' | 'legacy';
}

/**
 * Per-route behaviour from annotations (src/translate/route-settings.ts). Only what is set is
 * present; anything absent follows the controller-wide flags. Applied by the proxy in this order:
 * redirect, sslRedirect, appRoot, source ranges, body size, then forwarding with rewriteTarget and the timeouts.
 */
export interface RouteSettings {
  /** proxy-connect-timeout, ms. */
  readonly connectTimeoutMs?: number;
  /** proxy-read-timeout, ms. */
  readonly readTimeoutMs?: number;
  /** proxy-send-timeout, ms. */
  readonly sendTimeoutMs?: number;
  /** proxy-body-size in bytes; 0 = unlimited. */
  readonly maxBodyBytes?: number;
  /** temporal-redirect / permanent-redirect: every request is answered with this redirect. */
  readonly redirect?: { readonly code: number; readonly location: string };
  /**
   * Plain-HTTP requests are redirected (308) to https://<host><path>, except ACME HTTP-01
   * challenges: the host has TLS (and ssl-redirect is not "false"), or force-ssl-redirect.
   */
  readonly sslRedirect?: true;
  /** app-root: a request for exactly "/" is redirected (302) here. */
  readonly appRoot?: string;
  /**
   * rewrite-target, as nginx's `rewrite "(?i)<path>" <target> break`: when the route's path (a
   * regular expression, unanchored, case-insensitive) matches the request path, the whole path
   * becomes the target with `$0`-`$9` replaced by the captures; the query is appended (after "&"
   * when the target has its own; a target ending in "?" drops it). No rewrite when equal to the path.
   */
  readonly rewriteTarget?: string;
  /** backend-protocol HTTPS: TLS to the endpoints (certificate not verified, like nginx's default). */
  readonly backendProtocol?: 'HTTPS';
  /** proxy-next-upstream-tries: attempts per request, first included; 0 = every endpoint. */
  readonly nextUpstreamTries?: number;
  /** upstream-vhost: the Host header sent upstream (X-Forwarded-Host stays the client's). */
  readonly upstreamVhost?: string;
  /** x-forwarded-prefix: sent upstream as X-Forwarded-Prefix. */
  readonly forwardedPrefix?: string;
  /**
   * allowlist-source-range (or whitelist-source-range): only clients in these ranges
   * ("address/prefix") are served, others get 403; an empty list refuses everyone (the annotation
   * was invalid: fail closed).
   */
  readonly allowSourceRanges?: readonly string[];
  /** denylist-source-range: clients in these ranges get 403 (empty: everyone, the value was invalid). */
  readonly denySourceRanges?: readonly string[];
  /** limit-rps / limit-rpm / limit-connections of the Ingress (src/proxy/rate-limit.ts). */
  readonly rateLimit?: RateLimit;
  /** enable-cors and the cors-* annotations (src/compile/cors.ts). */
  readonly cors?: Cors;
}

/** CORS of an Ingress, as ingress-nginx's CORS template (README "Per-route behaviour"). */
export interface Cors {
  /** ["*"]: every request; else origins, matched case-insensitively, "*." = one label; []: none (invalid value). */
  readonly origins: readonly string[];
  readonly allowMethods: string;
  readonly allowHeaders: string;
  /** "" = no Access-Control-Expose-Headers. */
  readonly exposeHeaders: string;
  readonly allowCredentials: boolean;
  readonly maxAgeSeconds: number;
}

/**
 * Rate limits of one Ingress, shared by all its routes (ingress-nginx: one zone per Ingress), per
 * client address (the connection's peer). 0 = that limit is off; at least one is on.
 */
export interface RateLimit {
  /** "namespace/name" of the Ingress: routes with the same zone and limits share the counters. */
  readonly zone: string;
  /** limit-rps, and its burst (limit x limit-burst-multiplier). */
  readonly rps: number;
  readonly rpsBurst: number;
  /** limit-rpm, and its burst. */
  readonly rpm: number;
  readonly rpmBurst: number;
  /** limit-connections: requests in progress at once. */
  readonly connections: number;
  /** limit-allowlist (or limit-whitelist): clients never limited ("address/prefix"). */
  readonly allowRanges: readonly string[];
}

export interface BackendRef {
  /** Where it came from, for the debug view and metrics labels. */
  readonly service: { readonly namespace: string; readonly name: string; readonly port: number | string } | null;
  /** Key into RouteConfig.upstreams ("ns/name:port"), or null when it could not be resolved (-> 503). */
  readonly upstream: string | null;
}

/**
 * A canary Ingress path attached to a main route (same host, same path string, same pathType).
 * `Route.canaries` is in evaluation order: oldest canary Ingress first (creationTimestamp, then
 * namespace/name). Per request (compile/canary-rule.ts): for each canary in order, its header rule
 * then its cookie rule; then one weighted draw over all canaries; otherwise the main backend.
 */
export interface CanaryBackend {
  readonly source: ObjectRef;
  /** The canary Ingress path this came from: "ingress/<ns>/<name>/rule/<i>/path/<j>". */
  readonly name: string;
  readonly backend: BackendRef;
  /** canary-by-header (+ -value / -pattern), or null when not set or invalid. */
  readonly header: CanaryHeaderRule | null;
  /** canary-by-cookie: the cookie name, or null. */
  readonly cookie: string | null;
  /**
   * Effective canary-weight, 0..weightTotal: the configured weight, capped so that the shares of
   * all canaries on the route (weight / weightTotal each) add up to at most 1 (oldest keep theirs).
   */
  readonly weight: number;
  /** canary-weight-total (default 100). */
  readonly weightTotal: number;
  /** The canary Ingress's own load-balance / affinity annotations (kept, as ingress-nginx does), for its upstream. */
  readonly balance?: RouteBalance;
}

/**
 * The header rule of a canary. `name` is lower-case (header names are case-insensitive).
 * - 'value': the header equal to `value` (case-sensitive) -> canary; anything else falls through.
 * - 'pattern': `pattern` (a JavaScript regular expression, unanchored search) matches -> canary,
 *   no match falls through; `valid: false` (it did not compile) -> a request carrying the header
 *   goes to the main backend and the decision stops.
 * - 'always-never': "always" -> canary, "never" -> not this canary, anything else falls through.
 */
export type CanaryHeaderRule =
  | { readonly name: string; readonly match: 'value'; readonly value: string }
  | { readonly name: string; readonly match: 'pattern'; readonly pattern: string; readonly valid: boolean }
  | { readonly name: string; readonly match: 'always-never' };

export interface Upstream {
  /** "ns/service:port" with the Service's port NUMBER, so by-name and by-number refs share one. */
  readonly key: string;
  readonly namespace: string;
  readonly service: string;
  readonly servicePort: number;
  /** Endpoints from every EndpointSlice of the Service for that port, deduplicated, sorted by address then port. */
  readonly endpoints: readonly Endpoint[];
}

export interface Endpoint {
  /** IP address (v4/v6) or DNS name (FQDN slices, ExternalName services). */
  readonly address: string;
  readonly port: number;
  /** Conditions as the spec defines them: a missing `ready` means ready, missing `serving` means = ready. */
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
}

export interface TranslateResult {
  readonly config: RouteConfig;
  /** Sorted by object (kind, namespace, name), then reason, then message. */
  readonly diagnostics: readonly Diagnostic[];
}
