// The per-request canary decision of one route, compiled once per table from Route.canaries:
// header names lower-cased, regexes built, weights turned into cumulative integer thresholds, the
// random source bound. decide() is on the hot path: no allocation, no parsing of the model.

import type { IncomingHttpHeaders } from 'node:http';
import type { ObjectRef } from '../model/kube.ts';
import type { BackendRef, CanaryBackend } from '../model/route-config.ts';
import { canaryWeightScale } from '../translate/canary.ts';

/** A uniform random number in [0, 1), like Math.random (the default). Injected in tests. */
export type RandomSource = () => number;

/** What the proxy forwards to when the decision picks a canary. */
export interface CanaryTarget<U> {
  /** The canary Ingress as "namespace/name": the `canary` label of metrics and access logs. */
  readonly label: string;
  /** The canary Ingress path's route name ("ingress/<ns>/<name>/rule/<i>/path/<j>"). */
  readonly name: string;
  readonly source: ObjectRef;
  readonly backend: BackendRef;
  /** Whatever compile resolved the canary's backend to (an upstream key, a pool object, ...). */
  readonly upstream: U;
}

const HEADER_NONE = 0;
const HEADER_VALUE = 1;
const HEADER_PATTERN = 2;
const HEADER_INVALID_PATTERN = 3;
const HEADER_ALWAYS_NEVER = 4;

const COOKIE_NONE = 0;
const COOKIE_ALWAYS = 1;
const COOKIE_NEVER = 2;

/** One canary's compiled rules; fixed shape. */
class CompiledCanary<U> {
  readonly target: CanaryTarget<U>;
  readonly headerName: string;
  readonly headerKind: number;
  readonly headerValue: string;
  readonly pattern: RegExp | null;
  readonly cookieName: string;
  /** This canary's slice [low, threshold) of [0, total) in the weighted draw. */
  readonly low: number;
  readonly threshold: number;
  /** Equal to CanaryRule's stamp when this canary was excluded ("never") for the current request. */
  excludedAt = 0;
  /** Scratch: this request's value of the header (decide* is synchronous, so one slot is enough). */
  headerNow: string | undefined = undefined;
  /** How node joins repeated headers of this name: ", ", "; " (cookie), or "" (first one wins). */
  readonly joiner: string;

  constructor(target: CanaryTarget<U>, canary: CanaryBackend, low: number, threshold: number) {
    this.target = target;
    this.low = low;
    this.threshold = threshold;
    const header = canary.header;
    this.headerName = header === null ? '' : header.name;
    this.headerValue = header !== null && header.match === 'value' ? header.value : '';
    this.pattern = null;
    if (header === null) this.headerKind = HEADER_NONE;
    else if (header.match === 'value') this.headerKind = HEADER_VALUE;
    else if (header.match === 'always-never') this.headerKind = HEADER_ALWAYS_NEVER;
    else {
      // Compiled once here, never per request. Translate already validated it (and reported an
      // invalid one); a pattern that still fails to compile counts as invalid.
      let re: RegExp | null = null;
      if (header.valid) {
        try {
          re = new RegExp(header.pattern);
        } catch {
          re = null;
        }
      }
      this.pattern = re;
      this.headerKind = re === null ? HEADER_INVALID_PATTERN : HEADER_PATTERN;
    }
    this.cookieName = canary.cookie ?? '';
    this.joiner = this.headerName === 'cookie' ? '; ' : FIRST_WINS.has(this.headerName) ? '' : ', ';
  }
}

// Headers node's IncomingMessage keeps only the first of (lib/_http_incoming.js matchKnownFields),
// so decideRaw() sees exactly what decide(req.headers) would.
const FIRST_WINS = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host',
  'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards',
  'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent',
]);

/** `name` equals the lower-case `lower`, ASCII case-insensitively, without allocating. */
function equalsLowerCase(name: string, lower: string): boolean {
  const n = lower.length;
  if (name.length !== n) return false;
  for (let i = 0; i < n; i++) {
    let code = name.charCodeAt(i);
    if (code >= 65 && code <= 90) code += 32;
    if (code !== lower.charCodeAt(i)) return false;
  }
  return true;
}

export interface CanaryRuleOptions<U> {
  /** Uniform [0, 1) source; default Math.random. */
  readonly random?: RandomSource;
  /**
   * Resolves a canary's backend to what the proxy needs, or null when it cannot serve (unknown
   * upstream, no ready endpoint): such a canary is left out and its traffic stays on the main
   * route, as ingress-nginx does for a canary without endpoints.
   */
  readonly resolveUpstream: (backend: BackendRef) => U | null;
}

/**
 * The compiled canary decision of a route. decide() runs, per request, the order the README's
 * "Canary routing" section documents:
 * 1. for each canary, oldest first: its header rule, then its cookie rule
 *    (match -> that canary; "never" -> this canary is out for this request, go on with the next;
 *    invalid pattern with the header present -> main backend, stop);
 * 2. one weighted draw: an integer r uniform in [0, total) against cumulative thresholds; the
 *    canary whose slice holds r wins (unless it was excluded by "never" -> main);
 * 3. otherwise the main backend (null).
 */
export class CanaryRule<U> {
  readonly targets: readonly CanaryTarget<U>[];
  readonly #canaries: readonly CompiledCanary<U>[];
  readonly #total: number;
  readonly #weighted: boolean;
  readonly #usesCookie: boolean;
  readonly #usesHeader: boolean;
  readonly #random: RandomSource;
  #stamp = 0;
  /** Scratch: this request's Cookie header(s). */
  #cookieNow: string | undefined = undefined;

  constructor(canaries: readonly CompiledCanary<U>[], total: number, random: RandomSource) {
    this.#canaries = canaries;
    this.targets = canaries.map((c) => c.target);
    this.#total = total;
    this.#weighted = canaries.some((c) => c.threshold > c.low);
    this.#usesCookie = canaries.some((c) => c.cookieName !== '');
    this.#usesHeader = canaries.some((c) => c.headerKind !== HEADER_NONE);
    this.#random = random;
  }

  /** The chosen canary for a request whose headers node has parsed into an object (debug views, tests). */
  decide(headers: IncomingHttpHeaders): CanaryTarget<U> | null {
    const canaries = this.#canaries;
    for (let i = 0; i < canaries.length; i++) {
      const c = canaries[i];
      const raw = c.headerKind === HEADER_NONE ? undefined : headers[c.headerName];
      c.headerNow = raw === undefined || typeof raw === 'string' ? raw : raw.join(', ');
    }
    this.#cookieNow = this.#usesCookie ? headers.cookie : undefined;
    return this.#run();
  }

  /**
   * Hot path. The same decision from the request's rawHeaders ([name, value, ...]), without making
   * node build req.headers: one pass, names compared case-insensitively without allocating.
   */
  decideRaw(rawHeaders: readonly string[]): CanaryTarget<U> | null {
    const canaries = this.#canaries;
    for (let i = 0; i < canaries.length; i++) canaries[i].headerNow = undefined;
    let cookie: string | undefined = undefined;
    const usesCookie = this.#usesCookie;
    const usesHeader = this.#usesHeader;
    const n = usesCookie || usesHeader ? rawHeaders.length : 0; // weight-only rules read no header
    for (let j = 0; j < n; j += 2) {
      const name = rawHeaders[j];
      if (usesCookie && equalsLowerCase(name, 'cookie')) cookie = cookie === undefined ? rawHeaders[j + 1] : `${cookie}; ${rawHeaders[j + 1]}`;
      if (!usesHeader) continue;
      for (let i = 0; i < canaries.length; i++) {
        const c = canaries[i];
        if (c.headerKind === HEADER_NONE || !equalsLowerCase(name, c.headerName)) continue;
        const value = rawHeaders[j + 1];
        if (c.headerNow === undefined) c.headerNow = value;
        else if (c.joiner !== '') c.headerNow = c.headerNow + c.joiner + value;
      }
    }
    this.#cookieNow = cookie;
    return this.#run();
  }

  /** Hot path. The decision over the scratch values decide()/decideRaw() filled in. */
  #run(): CanaryTarget<U> | null {
    const canaries = this.#canaries;
    const stamp = ++this.#stamp;
    const cookieHeader = this.#cookieNow;
    // 1. Header, then cookie, canary by canary. Each iteration ends in one of: return a canary,
    //    return main (invalid pattern), exclude this canary ("never"), or fall through.
    for (let i = 0; i < canaries.length; i++) {
      const c = canaries[i];
      if (c.headerKind !== HEADER_NONE) {
        const value = c.headerNow;
        if (value !== undefined) {
          switch (c.headerKind) {
            case HEADER_VALUE:
              if (value === c.headerValue) return c.target;
              break;
            case HEADER_PATTERN:
              if ((c.pattern as RegExp).test(value)) return c.target;
              break;
            case HEADER_INVALID_PATTERN:
              return null;
            case HEADER_ALWAYS_NEVER:
              if (value === 'always') return c.target;
              if (value === 'never') {
                c.excludedAt = stamp;
                continue;
              }
              break;
          }
        }
      }
      if (c.cookieName !== '' && cookieHeader !== undefined) {
        const decision = findCookieDecision(cookieHeader, c.cookieName);
        if (decision === COOKIE_ALWAYS) return c.target;
        if (decision === COOKIE_NEVER) c.excludedAt = stamp;
      }
    }
    // 2. One weighted draw over all canaries.
    if (!this.#weighted) return null;
    let r = Math.floor(this.#random() * this.#total);
    if (r >= this.#total) r = this.#total - 1;
    for (let i = 0; i < canaries.length; i++) {
      const c = canaries[i];
      // A gap below `low` is the share of a canary left out at compile time: main.
      if (r < c.threshold) return r < c.low || c.excludedAt === stamp ? null : c.target;
    }
    // 3. Main.
    return null;
  }
}

/**
 * Compiles a route's canaries, or returns null when none can serve (the route then does no canary
 * work at all per request).
 */
export function compileCanaryRule<U>(canaries: readonly CanaryBackend[], options: CanaryRuleOptions<U>): CanaryRule<U> | null {
  if (canaries.length === 0) return null;
  // The scale is computed over all canaries (as translate capped them); a canary left out leaves a
  // gap in the slices, so its share goes to the main backend and the others keep theirs.
  const scale = canaryWeightScale(canaries);
  const compiled: CompiledCanary<U>[] = [];
  let cumulative = 0;
  for (let i = 0; i < canaries.length; i++) {
    const canary = canaries[i];
    const low = cumulative;
    cumulative += scale.units[i];
    const upstream = options.resolveUpstream(canary.backend);
    if (upstream === null) continue;
    const target: CanaryTarget<U> = {
      label: [canary.source.namespace, canary.source.name].join('/'),
      name: canary.name,
      source: canary.source,
      backend: canary.backend,
      upstream,
    };
    compiled.push(new CompiledCanary(target, canary, low, cumulative));
  }
  if (compiled.length === 0) return null;
  return new CanaryRule(compiled, scale.total, options.random ?? Math.random);
}

const SPACE = 32;
const TAB = 9;
const EQUALS = 61;

/**
 * Hot path. Looks up cookie `name` in a Cookie header without splitting it: COOKIE_ALWAYS for the
 * value "always", COOKIE_NEVER for "never", COOKIE_NONE otherwise or when absent. The first cookie
 * of that name counts (as nginx's $cookie_NAME).
 */
export function findCookieDecision(header: string, name: string): number {
  const n = header.length;
  let i = 0;
  while (i < n) {
    while (i < n && (header.charCodeAt(i) === SPACE || header.charCodeAt(i) === TAB)) i++;
    let end = header.indexOf(';', i);
    if (end === -1) end = n;
    if (header.startsWith(name, i) && header.charCodeAt(i + name.length) === EQUALS && i + name.length < end) {
      let start = i + name.length + 1;
      let stop = end;
      while (start < stop && (header.charCodeAt(start) === SPACE || header.charCodeAt(start) === TAB)) start++;
      while (stop > start && (header.charCodeAt(stop - 1) === SPACE || header.charCodeAt(stop - 1) === TAB)) stop--;
      const len = stop - start;
      if (len === 6 && header.startsWith('always', start)) return COOKIE_ALWAYS;
      if (len === 5 && header.startsWith('never', start)) return COOKIE_NEVER;
      return COOKIE_NONE;
    }
    i = end + 1;
  }
  return COOKIE_NONE;
}

export { COOKIE_ALWAYS, COOKIE_NEVER, COOKIE_NONE };
