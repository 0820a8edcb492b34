// Header handling on both legs, written for the hot path: one pass over node's rawHeaders (flat
// [name, value, ...] array), header names compared case-insensitively without allocating, one output
// array per request that undici takes as is.
//
// Request leg (client -> upstream):
//   - hop-by-hop headers are removed: Connection and every header it lists, Keep-Alive,
//     Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, plus Proxy-Authorization (credentials
//     meant for a proxy never reach a backend) and Expect (the proxy answers "100 Continue" itself,
//     once the request is forwarded);
//   - Host is preserved as sent by the client (an absolute-form target's authority replaces it:
//     setRequestHost); a repeated Host is reported in the facts, and the caller answers 400;
//   - X-Forwarded-For: the client's value (if any) with the peer address appended;
//   - X-Forwarded-Proto/-Host/-Port and X-Real-IP are set from the connection (a client's own values
//     are replaced, never trusted); a client's X-Forwarded-Prefix is dropped (only the
//     x-forwarded-prefix annotation sets one);
//   - X-Request-ID: the client's if it is sane (1-128 chars of [A-Za-z0-9._:-]), else a generated one.
// Response leg (upstream -> client): hop-by-hop headers removed (Connection and those it lists,
// Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, Trailer, TE); node sets its own framing.
// The upstream's Date and Server are not passed either, as nginx's default proxy_hide_header: node
// sends its own Date (cached once a second) and no Server header is sent at all.

import { randomBytes } from 'node:crypto';

/** Compare a header name to a lower-case literal, ignoring ASCII case, without allocating. */
export function nameIs(name: string, lower: string): boolean {
  // Header names are tokens (validated by node's parser): OR-ing 0x20 lower-cases letters and
  // leaves the other token characters that appear in our literals ("-") unchanged.
  for (let i = 0; i < lower.length; i++) {
    if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** A Content-Length value: digits only (at most 15), else -1. No call into V8's runtime (hot path). */
export function parseContentLength(value: string): number {
  const n = value.length;
  if (n === 0 || n > 15) return -1;
  let length = 0;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    length = length * 10 + c;
  }
  return length;
}

/** What the request-header pass learns about the request, written into the caller's object. */
export interface RequestHeaderFacts {
  /** Raw Host header (null when absent). */
  host: string | null;
  /** More than one Host header was sent (RFC 9112 3.2: answered with 400). */
  duplicateHost: boolean;
  /** The request carries a body (Content-Length > 0 or Transfer-Encoding). */
  hasBody: boolean;
  /** X-Request-ID sent upstream. */
  requestId: string;
}

/** The first value of a raw request header (`lower`: its lower-case name), or null. Rare path. */
export function headerValue(raw: readonly string[], lower: string): string | null {
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === lower.length && raw[i].toLowerCase() === lower) return raw[i + 1];
  return null;
}

/**
 * A peer address as the client knows itself: an IPv4 client on a dual-stack listener shows as
 * ::ffff:a.b.c.d, which is a.b.c.d (X-Forwarded-For, X-Real-IP, the access log, source ranges).
 */

export function clientAddress(remote: string): string {
  return remote.startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote;
}

/** Per-connection values the request leg needs (from the socket, cached by the caller). */
export interface ForwardedValues {
  readonly clientIp: string;
  readonly proto: string;
  readonly port: string;
}

const ID_PREFIX = randomBytes(8).toString('hex');
let idCounter = 0;

/** 32 hex characters like nginx's $request_id: a random per-process prefix and a counter. */
export function generateRequestId(): string {
  idCounter = (idCounter + 1) % 0x10000000000000;
  return ID_PREFIX + idCounter.toString(16).padStart(16, '0');
}

/** A client X-Request-ID is kept when it is 1-128 characters of [A-Za-z0-9._:-]. */
export function isSaneRequestId(value: string): boolean {
  const n = value.length;
  if (n === 0 || n > 128) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    const ok = (c >= 48 && c <= 58) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 46 || c === 95;
    if (!ok) return false;
  }
  return true;
}

/** A Connection value that is just "keep-alive" or "close" (any case). hot path */
function isPlainConnection(value: string): boolean {
  return (value.length === 10 && nameIs(value, 'keep-alive')) || (value.length === 5 && nameIs(value, 'close'));
}

/** Tokens of a Connection header besides close/keep-alive/upgrade (lower-cased), or null. Rare path. */
function connectionListed(value: string): string[] | null {
  let listed: string[] | null = null;
  for (const raw of value.split(',')) {
    const token = raw.trim().toLowerCase();
    if (token === '' || token === 'close' || token === 'keep-alive' || token === 'upgrade') continue;
    (listed ??= []).push(token);
  }
  return listed;
}

/** `headers` without the ones a Connection header listed (lower-case names). Rare path. */
export function removeListed(headers: string[], listed: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!listed.includes(headers[i].toLowerCase())) out.push(headers[i], headers[i + 1]);
  }
  return out;
}

/**
 * Build the upstream request headers from node's rawHeaders; fills `facts`.
 * hot path
 */
export function buildRequestHeaders(raw: readonly string[], fwd: ForwardedValues, facts: RequestHeaderFacts): string[] {
  const out: string[] = [];
  let xff: string | null = null;
  let requestId: string | null = null;
  let connection: string | null = null;
  let host: string | null = null;
  let duplicateHost = false;
  let hasBody = false;
  // 1. One pass: keep end-to-end headers, drop hop-by-hop and the ones we set; candidates are
  //    recognized by length first so most headers cost one switch.
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    switch (name.length) {
      case 2:
        if (nameIs(name, 'te')) continue;
        break;
      case 4:
        if (nameIs(name, 'host')) {
          if (host !== null) {
            duplicateHost = true; // node keeps the first one; routing on it would be ambiguous
            continue;
          }
          host = value;
        }
        break;
      case 6:
        if (nameIs(name, 'expect')) continue;
        break;
      case 7:
        if (nameIs(name, 'upgrade') || nameIs(name, 'trailer')) continue;
        break;
      case 9:
        if (nameIs(name, 'x-real-ip')) continue;
        break;
      case 10:
        if (nameIs(name, 'connection')) {
          // "keep-alive"/"close" (nearly every request) name no other header: nothing to parse.
          if (!isPlainConnection(value)) connection = connection === null ? value : connection + ',' + value;
          continue;
        }
        if (nameIs(name, 'keep-alive')) continue;
        break;
      case 12:
        if (nameIs(name, 'x-request-id')) {
          requestId ??= value;
          continue;
        }
        break;
      case 14:
        if (nameIs(name, 'content-length') && value !== '0') hasBody = true;
        break;
      case 15:
        if (nameIs(name, 'x-forwarded-for')) {
          xff = xff === null ? value : xff + ', ' + value;
          continue;
        }
        break;
      case 16:
        if (nameIs(name, 'x-forwarded-host') || nameIs(name, 'x-forwarded-port') || nameIs(name, 'proxy-connection')) continue;
        break;
      case 17:
        if (nameIs(name, 'transfer-encoding')) {
          hasBody = true;
          continue;
        }
        if (nameIs(name, 'x-forwarded-proto')) continue;
        break;
      case 18:
        if (nameIs(name, 'x-forwarded-prefix')) continue; // only the x-forwarded-prefix annotation sets it
        break;
      case 19:
        if (nameIs(name, 'proxy-authorization')) continue;
        break;
    }
    out.push(name, value);
  }

  // 2. Our headers.
  if (requestId === null || !isSaneRequestId(requestId)) requestId = generateRequestId();
  out.push(
    'x-forwarded-for', xff === null ? fwd.clientIp : xff + ', ' + fwd.clientIp,
    'x-forwarded-proto', fwd.proto,
    'x-forwarded-port', fwd.port,
    'x-real-ip', fwd.clientIp,
    'x-request-id', requestId,
  );
  if (host !== null) out.push('x-forwarded-host', host);

  facts.host = host;
  facts.duplicateHost = duplicateHost;
  facts.hasBody = hasBody;
  facts.requestId = requestId;

  // 3. Rare: "Connection: foo" names more hop-by-hop headers.
  if (connection !== null) {
    const listed = connectionListed(connection);
    if (listed !== null) return removeListed(out, listed);
  }
  return out;
}

/** Sets the first `lowerName` header in `headers` to `value`, or adds it. Rare path. */
function setHeader(headers: string[], lowerName: string, value: string): void {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    if (name.length === lowerName.length && nameIs(name, lowerName)) {
      headers[i + 1] = value;
      return;
    }
  }
  headers.push(lowerName, value);
}

/**
 * An absolute-form target's authority replaces the Host header (RFC 9112 3.2.2), so the upstream sees
 * the host the request was routed by: Host and X-Forwarded-Host in `headers` (built by
 * buildRequestHeaders, which keeps one of each) become `host`. Rare path.
 */
export function setRequestHost(headers: string[], host: string): void {
  setHeader(headers, 'host', host);
  setHeader(headers, 'x-forwarded-host', host);
}

/** upstream-vhost: the Host value sent upstream is `host` (added when the client sent none). Rare path. */
export function setUpstreamHost(headers: string[], host: string): void {
  setHeader(headers, 'host', host);
}

/**
 * Why a request's Host cannot be served, or null when it can (`host`: the Host header, or an
 * absolute-form target's authority). HTTP/1.1 requires exactly one Host (RFC 9112 3.2); its value is
 * checked like nginx's ngx_http_validate_host: not empty, no path separators, no control characters
 * or spaces, no "..".
 */
export function hostProblem(host: string | null, duplicate: boolean, http11: boolean): string | null {
  if (duplicate) return 'duplicate Host header';
  if (host === null) return http11 ? 'missing Host header' : null;
  const n = host.length;
  if (n === 0) return 'empty Host header';
  for (let i = 0; i < n; i++) {
    const c = host.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 47 /* / */ || c === 92 /* \ */ || (c === 46 && i > 0 && host.charCodeAt(i - 1) === 46)) {
      return 'invalid Host header';
    }
  }
  return null;
}

/**
 * Flatten undici's parsed response headers (lower-case keys; arrays for repeated headers) into the
 * [name, value, ...] form res.writeHead() takes, without hop-by-hop headers.
 * hot path
 */
export function buildResponseHeaders(headers: Record<string, string | string[] | undefined>): string[] {
  const out: string[] = [];
  let connection: string | null = null;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    switch (name) {
      case 'connection':
        if (typeof value !== 'string') connection = value.join(',');
        else if (!isPlainConnection(value)) connection = value;
        continue;
      case 'keep-alive':
      case 'proxy-connection':
      case 'transfer-encoding':
      case 'upgrade':
      case 'trailer':
      case 'te':
      case 'date':
      case 'server':
        continue;
    }
    if (typeof value === 'string') out.push(name, value);
    else for (let i = 0; i < value.length; i++) out.push(name, value[i]);
  }
  if (connection !== null) {
    const listed = connectionListed(connection);
    if (listed !== null) return removeListed(out, listed);
  }
  return out;
}
