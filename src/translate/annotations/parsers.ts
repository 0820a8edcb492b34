// Value parsers for annotations. Each reads ONE annotation value (a string, as Kubernetes stores
// it) and returns the parsed value or a reason it is invalid; callers turn the reason into a
// Diagnostic and fall back to the annotation's default. Pure: no I/O, no clock, no randomness.

export type ParseOutcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export type AnnotationParser<T> = (value: string) => ParseOutcome<T>;

function ok<T>(value: T): ParseOutcome<T> {
  return { ok: true, value };
}

function fail<T>(error: string): ParseOutcome<T> {
  return { ok: false, error };
}

// Go's strconv.ParseBool, which ingress-nginx uses for boolean annotations: manifests that work
// there keep working here.
const TRUE_VALUES = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE_VALUES = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/** "true"/"false" (also 1, t, T, TRUE, True and 0, f, F, FALSE, False, like Go's ParseBool). */
export function parseBool(value: string): ParseOutcome<boolean> {
  const v = value.trim();
  if (TRUE_VALUES.has(v)) return ok(true);
  if (FALSE_VALUES.has(v)) return ok(false);
  return fail(`"${value}" is not a boolean (use "true" or "false")`);
}

/** Largest integer any integer annotation accepts (fits a signed 32-bit int). */
export const MAX_ANNOTATION_INT = 2_147_483_647;

/** A decimal integer (optional sign, like Go's Atoi), within [min, max]. */
export function parseIntInRange(min: number, max: number): AnnotationParser<number> {
  return (value: string) => {
    const v = value.trim();
    if (!/^[+-]?\d+$/.test(v)) return fail(`"${value}" is not an integer`);
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min || n > max) return fail(`${v} is out of range (${min}..${max})`);
    return ok(n === 0 ? 0 : n); // no -0
  };
}

// RFC 9110 token characters: what a header field name may contain.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** An HTTP header field name; returned lower-case (header names are case-insensitive). */
export function parseHeaderName(value: string): ParseOutcome<string> {
  const v = value.trim();
  if (v === '') return fail('the header name is empty');
  if (!TOKEN.test(v)) return fail(`"${value}" is not a valid HTTP header name`);
  return ok(v.toLowerCase());
}

/** A cookie name (RFC 6265: a token); case-sensitive, returned as written. */
export function parseCookieName(value: string): ParseOutcome<string> {
  const v = value.trim();
  if (v === '') return fail('the cookie name is empty');
  if (!TOKEN.test(v)) return fail(`"${value}" is not a valid cookie name`);
  return ok(v);
}

/** Any string, kept exactly as written (an empty string counts as "not set"). */
export function parseString(value: string): ParseOutcome<string> {
  return ok(value);
}

/**
 * A regular expression, checked by compiling it as a JavaScript RegExp without flags (the pattern
 * string is kept; compile builds the RegExp once per table). PCRE-only syntax fails here.
 */
export function parseRegex(value: string): ParseOutcome<string> {
  try {
    new RegExp(value);
    return ok(value);
  } catch (err) {
    return fail(`"${value}" is not a valid regular expression: ${(err as Error).message}`);
  }
}

// --- behaviour annotations (issue 7) -------------------------------------------------------------

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m)?$/;
const DURATION_UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000 };
/** Longest timeout an annotation accepts: one day. */
const MAX_TIMEOUT_MS = 86_400_000;

/**
 * A timeout: a number of seconds as ingress-nginx takes it ("5", "60"), or with a unit ("500ms",
 * "5s", "2m"). Returned in milliseconds; 0 is rejected (a request could never be sent).
 */
export function parseTimeout(value: string): ParseOutcome<number> {
  const m = DURATION.exec(value.trim());
  if (m === null) return fail(`"${value}" is not a timeout (seconds, or a number with ms, s or m)`);
  const ms = Math.round(Number(m[1]) * DURATION_UNIT_MS[m[2] ?? 's']);
  if (ms <= 0 || ms > MAX_TIMEOUT_MS) return fail(`${value.trim()} is out of range (more than 0, at most 24h)`);
  return ok(ms);
}

const SIZE = /^(\d+)([kKmMgG]?)$/;
const SIZE_UNIT: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** An nginx size ("1m", "512k", "100", "2g"); "0" means unlimited. Returned in bytes. */
export function parseSize(value: string): ParseOutcome<number> {
  const m = SIZE.exec(value.trim());
  if (m === null) return fail(`"${value}" is not a size (a number with an optional k, m or g suffix)`);
  const bytes = Number(m[1]) * SIZE_UNIT[m[2].toLowerCase()];
  if (!Number.isSafeInteger(bytes)) return fail(`"${value}" is too large`);
  return ok(bytes);
}

/** An absolute http(s) URL for a redirect, kept as written (no variables: `$` is rejected). */
export function parseRedirectUrl(value: string): ParseOutcome<string> {
  const v = value.trim();
  if (v === '') return fail('the URL is empty');
  if (/[\s\x00-\x1f\x7f]/.test(v)) return fail(`"${value}" contains whitespace or a control character`);
  if (v.includes('$')) return fail(`"${value}" uses an nginx variable, which is not supported`);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return fail(`"${value}" is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail(`"${value}" is not an http or https URL`);
  return ok(v);
}

/** A redirect status code: 300-308 (ingress-nginx accepts any 3xx). */
export function parseRedirectCode(value: string): ParseOutcome<number> {
  const outcome = parseIntInRange(300, 308)(value);
  if (!outcome.ok) return fail(`${outcome.error}: a redirect code must be 300 to 308`);
  return outcome;
}

/** A URL path ("/app"): starts with "/", no whitespace, control characters, "?", "#" or "$". */
export function parseUrlPath(value: string): ParseOutcome<string> {
  const v = value.trim();
  if (!v.startsWith('/')) return fail(`"${value}" must start with "/"`);
  if (/[\s\x00-\x1f\x7f?#$]/.test(v)) return fail(`"${value}" contains whitespace, a control character, "?", "#" or "$"`);
  return ok(v);
}

/** backend-protocol: HTTP or HTTPS (case-insensitive). GRPC, GRPCS, AUTO_HTTP and FCGI are not supported. */
export function parseBackendProtocol(value: string): ParseOutcome<'HTTP' | 'HTTPS'> {
  const v = value.trim().toUpperCase();
  if (v === 'HTTP' || v === 'HTTPS') return ok(v);
  if (v === 'GRPC' || v === 'GRPCS' || v === 'AUTO_HTTP' || v === 'FCGI') return fail(`"${value}" is not supported (only HTTP and HTTPS)`);
  return fail(`"${value}" is not a backend protocol (HTTP or HTTPS)`);
}

/**
 * rewrite-target: the path the request path is replaced by (src/compile/path-rewrite.ts), with
 * `$0`-`$9` for the captures of the Ingress path and an optional query. Other nginx variables
 * ("$host", "$request_uri", "${1}") are not expanded: rejected.
 */
export function parseRewriteTarget(value: string): ParseOutcome<string> {
  const v = value.trim();
  if (!v.startsWith('/')) return fail(`"${value}" must start with "/"`);
  if (/[\s\x00-\x1f\x7f#]/.test(v)) return fail(`"${value}" contains whitespace, a control character or "#"`);
  if (/\$(?![0-9])/.test(v)) return fail(`"${value}" uses an nginx variable other than $0-$9 (the captures of the path), which is not supported`);
  return ok(v);
}

/**
 * upstream-vhost: the Host header sent upstream, a host name or address with an optional port
 * ("api.internal", "api.internal:8080", "[2001:db8::1]:443"). nginx variables are not expanded.
 */
export function parseUpstreamVhost(value: string): ParseOutcome<string> {
  const v = value.trim();
  if (v.includes('$')) return fail(`"${value}" uses an nginx variable, which is not supported`);
  if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(:\d{1,5})?$/.test(v) || v.includes('..')) return fail(`"${value}" is not a host name or address with an optional port`);
  return ok(v);
}

/** x-forwarded-prefix: the X-Forwarded-Prefix value, printable text without control characters. */
export function parseHeaderValue(value: string): ParseOutcome<string> {
  const v = value.trim();
  if (v === '' || /[\x00-\x1f\x7f]/.test(v)) return fail(`"${value}" is empty or contains a control character`);
  if (v.includes('$')) return fail(`"${value}" uses an nginx variable, which is not supported`);
  return ok(v);
}

/** Dotted-quad IPv4, four decimal octets 0..255 without leading zeros (as Go's net.ParseIP). */
export function isIPv4(text: string): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return false;
  }
  return true;
}

/** IPv6 text form (RFC 4291 2.2): eight groups of 1-4 hex digits, one "::" at most, an IPv4 tail allowed. No zone. */
export function isIPv6(text: string): boolean {
  const lastColon = text.lastIndexOf(':');
  if (lastColon === -1) return false;
  let groupsText = text;
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    if (!isIPv4(tail)) return false;
    groupsText = text.slice(0, lastColon + 1) + '0:0'; // an IPv4 tail stands for two groups
  }
  const halves = groupsText.split('::');
  if (halves.length > 2) return false;
  let groups = 0;
  for (const half of halves) {
    if (half === '') continue;
    for (const group of half.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return false;
      groups++;
    }
  }
  return halves.length === 2 ? groups < 8 : groups === 8;
}

/**
 * whitelist-source-range / allowlist-source-range / denylist-source-range: comma-separated CIDRs or
 * single addresses, IPv4 or IPv6 ("10.0.0.0/8, 192.168.1.7, 2001:db8::/32"), as ingress-nginx
 * takes them. Each comes out as "address/prefix" (a single address gets /32 or /128). One invalid
 * entry makes the whole value invalid, as in ingress-nginx.
 */
export function parseSourceRanges(value: string): ParseOutcome<readonly string[]> {
  const out: string[] = [];
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const slash = entry.indexOf('/');
    const address = slash === -1 ? entry : entry.slice(0, slash);
    const v4 = isIPv4(address);
    if (!v4 && !isIPv6(address)) return fail(`"${entry}" is not an IP address or CIDR range`);
    const max = v4 ? 32 : 128;
    let prefix = max;
    if (slash !== -1) {
      const bits = entry.slice(slash + 1);
      if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return fail(`"${entry}" has an invalid prefix length (0..${max})`);
      prefix = Number(bits);
    }
    out.push(`${address}/${prefix}`);
  }
  if (out.length === 0) return fail('no address ranges');
  return ok(out);
}

// --- enable-cors (ingress-nginx's checks, which keep nginx variables and odd bytes out of the headers)

const CORS_ORIGIN = /^https?:\/\/(\*\.)?[A-Za-z0-9\-.]+(:[0-9]+)?$/;

/** cors-allow-origin: "*", or a comma-separated list of http(s) origins, each with an optional "*." label. */
export function parseCorsOrigins(value: string): ParseOutcome<readonly string[]> {
  const origins = value.split(',').map((o) => o.trim()).filter((o) => o !== '');
  if (origins.length === 0) return fail(`"${value}" names no origin`);
  if (origins.length === 1 && origins[0] === '*') return ok(origins);
  for (const origin of origins) {
    if (!CORS_ORIGIN.test(origin)) return fail(`"${origin}" is not "*" or an http(s) origin such as "https://app.example.com" or "https://*.example.com"`);
  }
  return ok(origins);
}

/** cors-allow-methods: method names separated by commas. */
export function parseCorsMethods(value: string): ParseOutcome<string> {
  const v = value.trim();
  return /^([A-Za-z]+,?\s?)+$/.test(v) ? ok(v) : fail(`"${value}" is not a comma-separated list of methods`);
}

/** cors-allow-headers / cors-expose-headers: header names (or "*") separated by commas. */
export function parseCorsHeaders(value: string): ParseOutcome<string> {
  const v = value.trim();
  return /^(([A-Za-z0-9\-_]+|\*),?\s?)+$/.test(v) ? ok(v) : fail(`"${value}" is not a comma-separated list of header names`);
}
