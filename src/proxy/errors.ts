// Every response the proxy produces itself, with a stable code, a status and a short plain-text body.
// Codes are stable strings (like undici's UND_ERR_*): usable in logs, metrics labels and tests.

export const ProxyErrorCode = {
  BAD_REQUEST: 'SWY_ERR_BAD_REQUEST',
  BAD_PATH: 'SWY_ERR_BAD_PATH',
  /** HTTP/1.1 without Host, more than one Host, or a Host value that is not a host (RFC 9112 3.2). */
  BAD_HOST: 'SWY_ERR_BAD_HOST',
  /** TRACE is refused, as nginx does (it would echo the request, cookies included, back: "cross-site tracing"). */
  METHOD_NOT_ALLOWED: 'SWY_ERR_METHOD_NOT_ALLOWED',
  /** The client's address is not in the route's allowlist-source-range, or is in its denylist-source-range. */
  FORBIDDEN_SOURCE: 'SWY_ERR_FORBIDDEN_SOURCE',
  /** The client address is over the route's limit-rps, limit-rpm or limit-connections. */
  RATE_LIMITED: 'SWY_ERR_RATE_LIMITED',
  /** The request body is larger than proxy-body-size (declared, or counted while streaming). */
  BODY_TOO_LARGE: 'SWY_ERR_BODY_TOO_LARGE',
  NO_ROUTE: 'SWY_ERR_NO_ROUTE',
  NO_UPSTREAM: 'SWY_ERR_NO_UPSTREAM',
  NO_ENDPOINT: 'SWY_ERR_NO_READY_ENDPOINT',
  /** The endpoint has --upstream-max-connections + --upstream-max-queue requests in flight already. */
  UPSTREAM_OVERLOADED: 'SWY_ERR_UPSTREAM_OVERLOADED',
  UPSTREAM_REFUSED: 'SWY_ERR_UPSTREAM_REFUSED',
  UPSTREAM_RESET: 'SWY_ERR_UPSTREAM_RESET',
  UPSTREAM_BAD_RESPONSE: 'SWY_ERR_UPSTREAM_BAD_RESPONSE',
  UPSTREAM_UNREACHABLE: 'SWY_ERR_UPSTREAM_UNREACHABLE',
  UPSTREAM_CONNECT_TIMEOUT: 'SWY_ERR_UPSTREAM_CONNECT_TIMEOUT',
  UPSTREAM_TIMEOUT: 'SWY_ERR_UPSTREAM_TIMEOUT',
  UPSTREAM_SEND_TIMEOUT: 'SWY_ERR_UPSTREAM_SEND_TIMEOUT',
  /** The client went away before the response was complete (logged as status 499, like nginx). */
  CLIENT_ABORTED: 'SWY_ERR_CLIENT_ABORTED',
  /** The client's request body failed (reset, or shorter than its Content-Length). */
  CLIENT_BODY: 'SWY_ERR_CLIENT_BODY',
  INTERNAL: 'SWY_ERR_INTERNAL',
} as const;

export type ProxyErrorCode = (typeof ProxyErrorCode)[keyof typeof ProxyErrorCode];

interface ErrorSpec {
  readonly status: number;
  /** Short plain-text body sent to the client. */
  readonly body: Buffer;
  /** Log message prefix (the "why"). */
  readonly message: string;
}

function spec(status: number, body: string, message: string): ErrorSpec {
  return { status, body: Buffer.from(body + '\n'), message };
}

const SPECS: Record<ProxyErrorCode, ErrorSpec> = {
  SWY_ERR_BAD_REQUEST: spec(400, 'Bad Request', 'malformed request'),
  SWY_ERR_BAD_PATH: spec(400, 'Bad Request: invalid request path', 'request target cannot be normalized'),
  SWY_ERR_BAD_HOST: spec(400, 'Bad Request: missing, repeated or invalid Host header', 'the Host header is missing, repeated or invalid'),
  SWY_ERR_METHOD_NOT_ALLOWED: spec(405, 'Method Not Allowed: TRACE is not proxied', 'TRACE requests are refused'),
  SWY_ERR_FORBIDDEN_SOURCE: spec(403, 'Forbidden', 'client address not allowed by the route\'s source ranges'),
  SWY_ERR_RATE_LIMITED: spec(503, 'Service Unavailable: too many requests from this client', 'client over the route\'s rate limit'),
  SWY_ERR_BODY_TOO_LARGE: spec(413, 'Payload Too Large: the request body exceeds the limit', 'request body larger than proxy-body-size'),
  SWY_ERR_NO_ROUTE: spec(404, 'Not Found: no route for this host and path', 'no route matches and there is no default backend'),
  SWY_ERR_NO_UPSTREAM: spec(503, 'Service Unavailable: backend not found', 'the backend Service of the route could not be resolved'),
  SWY_ERR_NO_READY_ENDPOINT: spec(503, 'Service Unavailable: no ready endpoint', 'the backend has no ready endpoint'),
  SWY_ERR_UPSTREAM_OVERLOADED: spec(503, 'Service Unavailable: backend overloaded', 'the endpoint has its maximum of connections busy and its queue full'),
  SWY_ERR_UPSTREAM_REFUSED: spec(502, 'Bad Gateway: upstream refused the connection', 'upstream refused the connection'),
  SWY_ERR_UPSTREAM_RESET: spec(502, 'Bad Gateway: upstream closed the connection', 'upstream closed or reset the connection'),
  SWY_ERR_UPSTREAM_BAD_RESPONSE: spec(502, 'Bad Gateway: invalid upstream response', 'upstream sent an invalid response'),
  SWY_ERR_UPSTREAM_UNREACHABLE: spec(502, 'Bad Gateway: upstream unreachable', 'upstream could not be reached'),
  SWY_ERR_UPSTREAM_CONNECT_TIMEOUT: spec(504, 'Gateway Timeout: upstream connect timed out', 'upstream connect timed out'),
  SWY_ERR_UPSTREAM_TIMEOUT: spec(504, 'Gateway Timeout: upstream did not answer in time', 'upstream read timed out'),
  SWY_ERR_UPSTREAM_SEND_TIMEOUT: spec(504, 'Gateway Timeout: sending the request to the upstream timed out', 'request body send timed out'),
  SWY_ERR_CLIENT_ABORTED: spec(499, 'Client Closed Request', 'client closed the connection before the response was complete'),
  SWY_ERR_CLIENT_BODY: spec(400, 'Bad Request: request body incomplete', 'client request body failed'),
  SWY_ERR_INTERNAL: spec(500, 'Internal Server Error', 'internal error'),
};

/** Status, body and log message of a code. */
export function errorSpec(code: ProxyErrorCode): ErrorSpec {
  return SPECS[code];
}

/** An error with a stable code and the HTTP status the proxy answers with. */
export class ProxyError extends Error {
  readonly code: ProxyErrorCode;
  readonly status: number;

  constructor(code: ProxyErrorCode, cause?: unknown) {
    const s = SPECS[code];
    super(s.message, cause === undefined ? undefined : { cause });
    this.name = 'ProxyError';
    this.code = code;
    this.status = s.status;
  }
}

/**
 * Map an upstream client (http1-pool.ts, undici) or socket error (before any response byte was sent) to our code.
 * Called once per failed request, never on the success path.
 */
export function classifyUpstreamError(err: unknown): ProxyErrorCode {
  const code = (err as { code?: string } | null)?.code;
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'SWY_UPSTREAM_CONNECT_TIMEOUT':
      return ProxyErrorCode.UPSTREAM_CONNECT_TIMEOUT;
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'SWY_UPSTREAM_HEADERS_TIMEOUT':
    case 'SWY_UPSTREAM_BODY_TIMEOUT':
    case 'ETIMEDOUT':
      return ProxyErrorCode.UPSTREAM_TIMEOUT;
    case 'ECONNREFUSED':
      return ProxyErrorCode.UPSTREAM_REFUSED;
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
    case 'UND_ERR_DESTROYED':
    case 'SWY_UPSTREAM_CLOSED':
      return ProxyErrorCode.UPSTREAM_RESET;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return ProxyErrorCode.UPSTREAM_UNREACHABLE;
    case 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH':
    case 'SWY_CLIENT_BODY':
      return ProxyErrorCode.CLIENT_BODY;
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
    case 'SWY_UPSTREAM_BAD_RESPONSE':
    case 'UND_ERR_INFO':
    case 'UND_ERR_NOT_SUPPORTED':
    case 'ERR_INVALID_CHAR':
    case 'ERR_INVALID_HTTP_TOKEN':
    case 'ERR_HTTP_INVALID_STATUS_CODE':
      return ProxyErrorCode.UPSTREAM_BAD_RESPONSE;
    case 'UND_ERR_INVALID_ARG':
      // node's parser already validated everything a client controls: this is our bug.
      return ProxyErrorCode.INTERNAL;
    default:
      if ((typeof code === 'string' && code.startsWith('HPE_')) || (err as Error | null)?.name === 'HTTPParserError') {
        return ProxyErrorCode.UPSTREAM_BAD_RESPONSE;
      }
      return ProxyErrorCode.UPSTREAM_RESET;
  }
}
