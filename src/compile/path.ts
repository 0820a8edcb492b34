// Request-target parsing and path normalization. What is matched is what is forwarded: the proxy
// matches the normalized path and sends the normalized path plus the original query upstream, so
// `/public/../admin` can neither reach a route it does not match nor smuggle `..` past the matcher.
//
// Normalization (RFC 3986 section 6.2.2, the parts that are safe for every backend):
//   1. percent-encoded UNRESERVED characters are decoded (`%7E` -> `~`, `%2e` -> `.`), so `%2e%2e` is
//      a dot segment; every other escape is kept, with its hex digits upper-cased (`%2f` -> `%2F`),
//      so an encoded slash never becomes a path separator;
//   2. duplicate slashes are merged (`//a///b` -> `/a/b`);
//   3. dot segments are resolved (`/a/./b/../c` -> `/a/c`); a `..` that would climb above the root
//      makes the request invalid (400), like nginx.
// A trailing slash is kept (`/a/b/` stays `/a/b/`; `/a/b/.` -> `/a/b/`), since Exact paths see it.

/** Char codes used below. */
const SLASH = 47;
const DOT = 46;
const PERCENT = 37;
const QUESTION = 63;
const HASH = 35;

/**
 * Index where the path of an origin-form request target ends (the "?" or "#", else its length).
 * hot path
 */
export function pathEnd(target: string): number {
  const q = target.indexOf('?');
  const h = target.indexOf('#');
  if (h === -1) return q === -1 ? target.length : q;
  return q === -1 || h < q ? h : q;
}

/**
 * True when the path part of `target` (up to `end`) needs no normalization: it starts with "/",
 * has no "%", no "//" and no "/." (which might start a dot segment). Most real paths pass.
 * hot path
 */
export function isCleanPath(target: string, end: number): boolean {
  if (end === 0 || target.charCodeAt(0) !== SLASH) return false;
  let prev = SLASH;
  for (let i = 1; i < end; i++) {
    const c = target.charCodeAt(i);
    if (c === PERCENT) return false;
    if (prev === SLASH && (c === SLASH || c === DOT)) return false;
    prev = c;
  }
  return true;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

function isUnreserved(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 95 || c === 126;
}

const HEX = '0123456789ABCDEF';

/**
 * Normalize an origin-form path (no query). Returns the normalized path, or null when the path is
 * invalid (does not start with "/", a broken percent escape, or ".." above the root).
 * Not the hot path: callers check isCleanPath() first.
 */
export function normalizePath(path: string): string | null {
  if (path.length === 0 || path.charCodeAt(0) !== SLASH) return null;

  // 1. Decode unreserved escapes, upper-case the others.
  let decoded = path;
  if (path.indexOf('%') !== -1) {
    let out = '';
    let last = 0;
    for (let i = 0; i < path.length; i++) {
      if (path.charCodeAt(i) !== PERCENT) continue;
      if (i + 2 >= path.length) return null; // fewer than two characters follow the "%"
      const h1 = hexValue(path.charCodeAt(i + 1));
      const h2 = hexValue(path.charCodeAt(i + 2));
      if (h1 < 0 || h2 < 0) return null;
      const byte = h1 * 16 + h2;
      out += path.slice(last, i);
      out += isUnreserved(byte) ? String.fromCharCode(byte) : '%' + HEX[h1] + HEX[h2];
      last = i + 3;
      i += 2;
    }
    decoded = out + path.slice(last);
  }

  // 2 + 3. Split on "/", drop empty and "." segments, pop on "..".
  const segments: string[] = [];
  let start = 1;
  let trailingSlash = false;
  for (let i = 1; i <= decoded.length; i++) {
    if (i < decoded.length && decoded.charCodeAt(i) !== SLASH) continue;
    const segment = decoded.slice(start, i);
    start = i + 1;
    const atEnd = i >= decoded.length - 1;
    if (segment === '' || segment === '.') {
      if (atEnd) trailingSlash = true;
    } else if (segment === '..') {
      if (segments.length === 0) return null;
      segments.pop();
      if (atEnd) trailingSlash = true;
    } else {
      segments.push(segment);
      trailingSlash = i === decoded.length - 1;
    }
  }
  if (segments.length === 0) return '/';
  const joined = '/' + segments.join('/');
  return trailingSlash ? joined + '/' : joined;
}

/** Result of parseRequestTarget: the path to match, the query (with "?", or ""), and for absolute-form the authority. */
export interface RequestTarget {
  readonly path: string;
  readonly query: string;
  /** Host from an absolute-form target (`http://host/path`), which replaces the Host header; else null. */
  readonly authority: string | null;
}

/**
 * Full parse of a request target, for the slow path (anything that is not a clean origin-form path)
 * and for tests. Returns null for targets that cannot be served: asterisk-form (`*`),
 * authority-form (`host:443`), non-http(s) absolute URIs, and paths that cannot be normalized.
 */
export function parseRequestTarget(target: string): RequestTarget | null {
  let authority: string | null = null;
  let rest = target;
  if (target.charCodeAt(0) !== SLASH) {
    // absolute-form: scheme "://" authority [path-abempty] [? query]
    const lower = target.slice(0, 8).toLowerCase();
    let afterScheme: number;
    if (lower.startsWith('http://')) afterScheme = 7;
    else if (lower.startsWith('https://')) afterScheme = 8;
    else return null;
    let authorityEnd = afterScheme;
    while (authorityEnd < target.length) {
      const c = target.charCodeAt(authorityEnd);
      if (c === SLASH || c === QUESTION || c === HASH) break;
      authorityEnd++;
    }
    authority = target.slice(afterScheme, authorityEnd);
    if (authority === '' || authority.includes('@')) return null;
    rest = target.slice(authorityEnd);
    if (rest === '' || rest.charCodeAt(0) !== SLASH) rest = '/' + rest;
  }
  const end = pathEnd(rest);
  const rawPath = rest.slice(0, end);
  const path = isCleanPath(rawPath, rawPath.length) ? rawPath : normalizePath(rawPath);
  if (path === null) return null;
  let query = '';
  if (end < rest.length && rest.charCodeAt(end) === QUESTION) {
    const hash = rest.indexOf('#', end);
    query = hash === -1 ? rest.slice(end) : rest.slice(end, hash);
  }
  return { path, query, authority };
}
