// Single JSON requests to the API server (get, create, replace, patch one object), for leader
// election, Ingress status and Events. client-node's generated API classes would do the same, but
// loading them loads every model and API module (slim-client.ts); their models also turn times
// into Dates, which we would only turn back into strings. Requests are authenticated exactly as
// the lists in kinds.ts and client-node's own Watch are (applySecurityAuthentication: tokens,
// client certificates, exec plugins, the cluster CA). Every call must be in permissions.ts.
// Every request has a deadline (timeoutMs, 10 s by default) covering authentication, the answer's
// headers and its body: an API server that accepts the connection and never answers must not hang
// a Lease renewal or a status write forever.
import { HttpMethod, RequestContext } from '@kubernetes/client-node/dist/gen/http/http.js';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { fetch } from 'undici';

/** An HTTP error from the API server, shaped like client-node's (statusCode 404, 409, 410...). */
export class KubeApiError extends Error {
  readonly code = 'SWY_ERR_KUBE_API';
  readonly statusCode: number;
  readonly reason: string | undefined;

  constructor(statusCode: number, message: string, reason?: string) {
    super(message);
    this.statusCode = statusCode;
    this.reason = reason;
  }
}

/** A request that got no complete answer within its deadline (`timeoutMs`). Not an HTTP error:
 *  no statusCode; callers handle it like a network error (log, retry on their schedule). */
export class KubeApiTimeoutError extends Error {
  readonly code = 'SWY_ERR_KUBE_API_TIMEOUT';
  readonly reason = 'Timeout';
  readonly timeoutMs: number;

  constructor(what: string, timeoutMs: number) {
    super(`${what}: no answer from the API server within ${timeoutMs}ms`);
    this.name = 'KubeApiTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** The default deadline of one request: client-go's leader election gives each renewal its renew
 *  deadline, 10 s by default; a Lease, status or Event request answers in milliseconds. */
export const DEFAULT_KUBE_REQUEST_TIMEOUT_MS = 10_000;

export interface KubeRequestOptions {
  /** Content-Type of the body (JSON_PATCH for a PATCH); application/json by default. */
  readonly contentType?: string;
  /** Deadline of the whole request, authentication and body included; 0 or less fails at once. */
  readonly timeoutMs?: number;
  /** Aborts the request early; it then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

export type KubeRestMethod = 'GET' | 'POST' | 'PUT' | 'PATCH';

/** What client-node sends for a PATCH (its generated methods prefer JSON Patch). */
export const JSON_PATCH = 'application/json-patch+json';

const METHODS: Readonly<Record<KubeRestMethod, HttpMethod>> = {
  GET: HttpMethod.GET, POST: HttpMethod.POST, PUT: HttpMethod.PUT, PATCH: HttpMethod.PATCH,
};

/** An authenticated request to the current cluster; `path` starts with /api or /apis. */
export async function authorizedFetch(
  kc: KubeConfig, method: KubeRestMethod, url: URL, headers: Readonly<Record<string, string>>, body: string | undefined, signal?: AbortSignal,
): ReturnType<typeof fetch> {
  const ctx = new RequestContext(url.toString(), METHODS[method]);
  for (const [name, value] of Object.entries(headers)) ctx.setHeaderParam(name, value);
  // An exec credential plugin can hang too: the deadline covers it.
  const auth = kc.applySecurityAuthentication(ctx);
  await (signal === undefined ? auth : raceAbort(auth, signal));
  return fetch(url, { method, headers: ctx.getHeaders(), body, dispatcher: ctx.getDispatcher() as never, signal });
}

/** The URL of `path` on the current cluster. */
export function clusterUrl(kc: KubeConfig, path: string): URL {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error('kubeconfig has no current cluster');
  return new URL(cluster.server.replace(/\/+$/, '') + path);
}

/** The error for a non-2xx answer: the Status object's message and reason when there is one. */
export function apiError(status: number, statusText: string, text: string, what: string): KubeApiError {
  let message = statusText || `HTTP ${status}`;
  let reason: string | undefined;
  try {
    const parsed = JSON.parse(text) as { message?: string; reason?: string };
    message = parsed.message ?? message;
    reason = parsed.reason;
  } catch {
    // not a Status object
  }
  return new KubeApiError(status, `${what}: ${status} ${message}`, reason);
}

/**
 * One request with a JSON body (or none); resolves with the parsed JSON answer (undefined when it
 * is empty), rejects with a KubeApiError carrying the HTTP status for anything but 2xx, a
 * KubeApiTimeoutError when the whole answer did not arrive within `timeoutMs`, the reason of
 * `signal` when it aborted first, or the network error.
 */
export async function kubeRequest<T>(kc: KubeConfig, method: KubeRestMethod, path: string, body?: unknown, options: KubeRequestOptions = {}): Promise<T> {
  const what = `${method} ${path}`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_KUBE_REQUEST_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new KubeApiTimeoutError(what, 0);
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = options.contentType ?? 'application/json';
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = options.signal === undefined ? deadline : AbortSignal.any([deadline, options.signal]);
  let status: number;
  let statusText: string;
  let text: string;
  try {
    // The signal covers the body too: undici's fetch aborts a body still being read.
    const response = await authorizedFetch(kc, method, clusterUrl(kc, path), headers, body === undefined ? undefined : JSON.stringify(body), signal);
    status = response.status;
    statusText = response.statusText;
    text = await response.text();
  } catch (err) {
    // 1. the caller's signal first: its reason says why (stop(), a renew deadline)
    if (options.signal?.aborted === true) throw options.signal.reason;
    // 2. our deadline: fetch rejects with a bare DOMException TimeoutError; say which request
    if (deadline.aborted) throw new KubeApiTimeoutError(what, timeoutMs);
    // 3. a network error (refused, reset, TLS)
    throw err;
  }
  if (status < 200 || status > 299) throw apiError(status, statusText, text, what);
  if (text === '') return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new KubeApiError(status, `${what}: the answer is not JSON`);
  }
}

/** `promise`, or the signal's reason if it aborts first (the promise's own outcome is then
 *  dropped, never left unhandled). */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => { signal.removeEventListener('abort', onAbort); resolve(value); },
      (err: unknown) => { signal.removeEventListener('abort', onAbort); reject(err); },
    );
  });
}

/** The path of one object: `/api/v1/namespaces/NS/services/NAME`, with an optional subresource. */
export function objectPath(apiGroup: string, version: string, resource: string, namespace: string, name: string, subresource?: string): string {
  const base = apiGroup === '' ? `/api/${version}` : `/apis/${apiGroup}/${version}`;
  const path = `${base}/namespaces/${encodeURIComponent(namespace)}/${resource}`;
  return name === '' ? path : `${path}/${encodeURIComponent(name)}${subresource !== undefined ? `/${subresource}` : ''}`;
}
