// The response head of the common proxied response, built without ServerResponse.writeHead.
//
// writeHead validates every header name and value with a regex each, then _storeHeader builds the
// head one header at a time, lower-casing names to look for the ones it treats specially: about
// 7 % of a proxied request's instructions (bench/PROFILE.md §10). For a response whose headers
// http1-pool's parser has already checked (names are tokens, values have no control characters)
// and whose framing is plain (HTTP/1.1 keep-alive client, upstream Content-Length, a standard
// reason phrase), the head is built here into the same field writeHead fills (`_header`), with the
// Date, Connection and Keep-Alive lines node would add. node then sends it with the first body
// bytes exactly as it would its own. Everything else takes writeHead.
//
// This writes node:http internals (the fields _storeHeader sets): they are checked once at load
// on a real ServerResponse, and if any is missing (another node version) this path stays off.
import { IncomingMessage, ServerResponse, STATUS_CODES } from 'node:http';
import { Socket } from 'node:net';
import { nameIs, parseContentLength } from './headers.ts';

/** The ServerResponse fields writeHead/_storeHeader read and write (node 24's _http_outgoing.js). */
interface ResponseInternals {
  _header: string | null;
  _headerSent: boolean;
  statusCode: number;
  statusMessage: string;
  shouldKeepAlive: boolean;
  maxRequestsOnConnectionReached: boolean;
  _expect_continue: boolean;
  sendDate: boolean;
  chunkedEncoding: boolean;
  _removedConnection: boolean;
  _removedContLen: boolean;
  _keepAliveTimeout: number;
  _defaultKeepAlive: boolean;
  _maxRequestsPerSocket: number | undefined;
  _contentLength: number | null;
  [key: symbol]: unknown;
}

function findOutHeaders(): symbol | null {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  const probe = new ServerResponse(req) as unknown as ResponseInternals;
  const symbol = Object.getOwnPropertySymbols(probe).find((s) => s.description === 'kOutHeaders');
  if (symbol === undefined || probe[symbol] !== null) return null;
  const expected: Record<string, unknown> = {
    _header: null,
    _headerSent: false,
    shouldKeepAlive: true,
    maxRequestsOnConnectionReached: false,
    _expect_continue: false,
    sendDate: true,
    chunkedEncoding: false,
    _removedConnection: false,
    _removedContLen: false,
    _keepAliveTimeout: 0,
    _defaultKeepAlive: true,
    _contentLength: null,
  };
  for (const [field, value] of Object.entries(expected)) {
    if (!Object.hasOwn(probe, field) || (probe as unknown as Record<string, unknown>)[field] !== value) return null;
  }
  return symbol;
}

/** node's private key of headers set with setHeader(); null when this node's fields are not the expected ones. */
const kOutHeaders = findOutHeaders();

/** Whether this node's ServerResponse has the fields this module writes (false: always writeHead). */
export const RESPONSE_HEAD_SUPPORTED = kOutHeaders !== null;

/** "HTTP/1.1 200 OK\r\n" for every status node knows a reason phrase for. */
const STATUS_LINES: string[] = [];
for (const [code, text] of Object.entries(STATUS_CODES)) STATUS_LINES[Number(code)] = `HTTP/1.1 ${code} ${text}\r\n`;

// node's Date value is cached for the rest of the second too (internal/http utcDate).
let dateLine = '';
let dateLineUntil = 0;

function currentDateLine(): string {
  const now = Date.now();
  if (now >= dateLineUntil) {
    dateLine = `Date: ${new Date(now).toUTCString()}\r\n`;
    dateLineUntil = now - (now % 1000) + 1000;
  }
  return dateLine;
}

// The Connection/Keep-Alive lines for the server's keepAliveTimeout and maxRequestsPerSocket (one
// server in practice: cached for the last pair seen).
let keepAliveTimeoutSeen = -1;
let maxRequestsSeen: number | undefined = -1;
let keepAliveLines = '';

function connectionLines(r: ResponseInternals): string {
  const timeout = r._keepAliveTimeout;
  const max = r._maxRequestsPerSocket;
  if (timeout !== keepAliveTimeoutSeen || max !== maxRequestsSeen) {
    keepAliveTimeoutSeen = timeout;
    maxRequestsSeen = max;
    keepAliveLines = 'Connection: keep-alive\r\n';
    // As _storeHeader: the hint only with a timeout, and max only when set.
    if (timeout) keepAliveLines += `Keep-Alive: timeout=${Math.floor(timeout / 1000)}${~~(max ?? 0) > 0 ? `, max=${max}` : ''}\r\n`;
  }
  return keepAliveLines;
}

/**
 * Store the head of a `status` response with `headers` (flat [name, value, ...]; names tokens and
 * values without control characters, already checked; a Content-Length among them; no hop-by-hop
 * ones) on `res`, as writeHead(status, headers) would. Returns false, having changed nothing, when
 * the response is not the plain case this covers: the caller then uses writeHead.
 * hot path
 */
export function storeResponseHead(res: ServerResponse, status: number, headers: readonly string[]): boolean {
  if (kOutHeaders === null || !(res instanceof ServerResponse)) return false;
  const r = res as unknown as ResponseInternals;
  if (
    r._header !== null ||
    r[kOutHeaders] !== null ||
    !r.shouldKeepAlive ||
    r.maxRequestsOnConnectionReached ||
    r._expect_continue ||
    !r.sendDate ||
    r._defaultKeepAlive !== true ||
    status === 204 ||
    status === 304
  ) {
    return false;
  }
  const statusLine = STATUS_LINES[status];
  if (statusLine === undefined || status < 200) return false;
  let head = statusLine;
  let contentLength = -1;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    const value = headers[i + 1];
    // The framing must come from Content-Length (node would otherwise choose chunked or close).
    // No lower-cased copy and no string-to-number call into V8's runtime (hot path).
    if (name.length === 14 && nameIs(name, 'content-length')) contentLength = parseContentLength(value);
    head += name + ': ' + value + '\r\n';
  }
  if (contentLength < 0) return false;
  r.statusCode = status;
  r.statusMessage = STATUS_CODES[status]!;
  r._contentLength = contentLength;
  r._header = head + currentDateLine() + connectionLines(r) + '\r\n';
  r._headerSent = false;
  return true;
}

/** Below this many bytes, head and body go out as one pooled Buffer (Buffer.poolSize / 2). */
const JOIN_LIMIT = 4096;

/**
 * The head storeResponseHead stored and `body`, the whole response body, as one Buffer marked as
 * carrying the head; null when they are too large to join (res then sends head and body itself,
 * as two writes). One Buffer is one plain socket write instead of a writev of a string and a Buffer.
 * hot path
 */
export function joinHeadAndBody(res: ServerResponse, body: Buffer): Buffer | null {
  const r = res as unknown as ResponseInternals;
  const head = r._header;
  if (head === null || r._headerSent || head.length + body.length >= JOIN_LIMIT) return null;
  const joined = Buffer.allocUnsafe(head.length + body.length);
  joined.write(head, 0, 'latin1');
  joined.set(body, head.length);
  r._headerSent = true;
  return joined;
}
