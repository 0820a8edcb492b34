// Single JSON requests to the API server (get, create, replace, patch one object), for leader
// election, Ingress status and Events. client-node's generated API classes would do the same, but
// loading them loads every model and API module (slim-client.ts); their models also turn times
// into Dates, which we would only turn back into strings. Requests are authenticated exactly as
// the lists in kinds.ts and client-node's own Watch are (applySecurityAuthentication: tokens,
// client certificates, exec plugins, the cluster CA). Every call must be in permissions.ts.
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
  await kc.applySecurityAuthentication(ctx);
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
 * is empty), rejects with a KubeApiError carrying the HTTP status for anything but 2xx, or with
 * the network error.
 */
export async function kubeRequest<T>(kc: KubeConfig, method: KubeRestMethod, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = contentType;
  const response = await authorizedFetch(kc, method, clusterUrl(kc, path), headers, body === undefined ? undefined : JSON.stringify(body));
  const text = await response.text();
  if (response.status < 200 || response.status > 299) throw apiError(response.status, response.statusText, text, `${method} ${path}`);
  if (text === '') return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new KubeApiError(response.status, `${method} ${path}: the answer is not JSON`);
  }
}

/** The path of one object: `/api/v1/namespaces/NS/services/NAME`, with an optional subresource. */
export function objectPath(apiGroup: string, version: string, resource: string, namespace: string, name: string, subresource?: string): string {
  const base = apiGroup === '' ? `/api/${version}` : `/apis/${apiGroup}/${version}`;
  const path = `${base}/namespaces/${encodeURIComponent(namespace)}/${resource}`;
  return name === '' ? path : `${path}/${encodeURIComponent(name)}${subresource !== undefined ? `/${subresource}` : ''}`;
}
