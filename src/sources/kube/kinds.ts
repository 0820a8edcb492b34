// The kinds Switchyard watches: where each lives in the API, how it is listed, which selectors apply.
// Every call here must be in permissions.ts (list + watch on each resource).
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { fetch } from 'undici';
import type { KubeKind } from '../../model/kube.ts';
import { apiError, authorizedFetch, clusterUrl, KubeApiError } from './kube-rest.ts';
import { NotAListError, readListJson } from './list-json.ts';

export { KubeApiError };

/** A whole list (all pages): the items as converted, and the resourceVersion it is consistent at. */
export interface ObjectList<T> {
  readonly resourceVersion: string | undefined;
  readonly items: T[];
}

/** How a list is read. */
export interface ListOptions {
  readonly fieldSelector: string | undefined;
  readonly labelSelector: string | undefined;
  /**
   * "0": any recent state, served from the API server's watch cache (cheap; limit is ignored
   * there). Used for an informer's first list, like client-go. undefined: the latest state, a
   * consistent read from etcd, fetched in pages of `pageSize`: used for relists (after a 410 the
   * state must not go back in time).
   */
  readonly resourceVersion: '0' | undefined;
  readonly pageSize: number;
  /** Aborts the list (informer stopped, or the list timeout passed). */
  readonly signal?: AbortSignal;
}

/**
 * LIST a collection, each item read from raw JSON and handed to `convert` at once (undefined: the
 * item is skipped). client-node's generated list methods deserialize every item into model classes
 * (Dates included) that we would then walk again to normalize: at 10,000 objects that is most of the
 * sync time (see README, "Running against a Kubernetes cluster"); and a whole parsed page would
 * outlive the young generation (list-json.ts). The request is built and authenticated exactly as
 * client-node's own Watch does it (applySecurityAuthentication: tokens, client certificates, exec
 * plugins, CA), only the response stays JSON.
 */
export async function listObjects<T>(kc: KubeConfig, path: string, options: ListOptions, convert: (item: unknown) => T | undefined): Promise<ObjectList<T>> {
  const items: T[] = [];
  let token: string | undefined;
  let resourceVersion: string | undefined;
  // 1. one page per request, following `continue` until the list is complete
  for (;;) {
    let page: Page;
    try {
      page = await listPage(kc, path, options, token, items, convert);
    } catch (err) {
      // 2. the continue token expired (the list took longer than the compaction interval): one
      //    unpaginated read instead, as client-go's pager falls back to
      if (token !== undefined && err instanceof KubeApiError && err.statusCode === 410) {
        const whole: T[] = [];
        const read = await listPage(kc, path, { ...options, pageSize: 0 }, undefined, whole, convert);
        return { resourceVersion: read.resourceVersion, items: whole };
      }
      throw err;
    }
    resourceVersion ??= page.resourceVersion;
    token = page.continue || undefined;
    // 3. done: the resourceVersion of the first page is the one the whole list is consistent at
    if (token === undefined) return { resourceVersion, items };
  }
}

interface Page {
  readonly resourceVersion: string | undefined;
  readonly continue: string | undefined;
}

/** One page; its items, converted, are appended to `into`. */
async function listPage<T>(
  kc: KubeConfig, path: string, options: ListOptions, token: string | undefined, into: T[], convert: (item: unknown) => T | undefined,
): Promise<Page> {
  const url = clusterUrl(kc, path);
  if (options.fieldSelector !== undefined) url.searchParams.set('fieldSelector', options.fieldSelector);
  if (options.labelSelector !== undefined) url.searchParams.set('labelSelector', options.labelSelector);
  if (options.resourceVersion !== undefined) url.searchParams.set('resourceVersion', options.resourceVersion);
  else if (options.pageSize > 0) url.searchParams.set('limit', String(options.pageSize));
  if (token !== undefined) url.searchParams.set('continue', token);
  const response = await authorizedFetch(kc, 'GET', url, { Accept: 'application/json' }, undefined, options.signal);
  const text = await readText(response);
  if (response.status !== 200) throw apiError(response.status, response.statusText, text, `list ${path}`);
  let members;
  try {
    members = readListJson(text, (item) => {
      const object = convert(item);
      if (object !== undefined) into.push(object);
    });
  } catch (err) {
    if (err instanceof NotAListError) throw new KubeApiError(response.status, `list ${path}: not a list (${err.message})`);
    throw err;
  }
  const metadata = members.metadata as { resourceVersion?: string; continue?: string } | null | undefined;
  return { resourceVersion: metadata?.resourceVersion, continue: metadata?.continue };
}

/**
 * The body as a string, decoded chunk by chunk as it arrives. `response.text()` keeps every chunk,
 * then copies them into one Buffer of the body's size (14 MB for 10,000 EndpointSlices). glibc
 * serves that from mmap, and freeing it raises glibc's mmap and trim thresholds to its size (they
 * adapt upwards), so the next lists' chunks stay in the malloc heap and are not given back:
 * ≈ 35 MiB of RSS at 10,000 Ingresses (bench/PROFILE.md 6c). Decoded one at a time, at most a few
 * chunks are alive off the V8 heap.
 */
async function readText(response: Awaited<ReturnType<typeof fetch>>): Promise<string> {
  if (response.body === null) return '';
  const decoder = new TextDecoder(); // UTF-8, BOM dropped and bad bytes replaced, as text() does
  const parts: string[] = [];
  for await (const chunk of response.body) parts.push(decoder.decode(chunk, { stream: true }));
  parts.push(decoder.decode());
  return parts.join('');
}

export interface KindSpec {
  readonly kind: KubeKind;
  readonly apiVersion: string;
  readonly apiGroup: string;
  readonly resource: string;
  readonly namespaced: boolean;
  /**
   * Secrets: only `kubernetes.io/tls` Secrets are watched (fieldSelector `type=kubernetes.io/tls`),
   * cluster-wide or per watched namespace. The store keeps whatever an Ingress references; this
   * keeps Opaque Secrets (tokens, passwords, Helm releases) out of the controller's memory.
   */
  readonly fieldSelector?: string;
  /** Path of the collection (list and watch use the same path; the watch adds ?watch=true). */
  path(namespace: string | undefined): string;
}

function collectionPath(apiGroup: string, version: string, resource: string, namespace: string | undefined): string {
  const base = apiGroup === '' ? `/api/${version}` : `/apis/${apiGroup}/${version}`;
  return namespace === undefined ? `${base}/${resource}` : `${base}/namespaces/${encodeURIComponent(namespace)}/${resource}`;
}

export const KIND_SPECS: readonly KindSpec[] = [
  {
    kind: 'Ingress', apiVersion: 'networking.k8s.io/v1', apiGroup: 'networking.k8s.io', resource: 'ingresses', namespaced: true,
    path: (ns) => collectionPath('networking.k8s.io', 'v1', 'ingresses', ns),
  },
  {
    kind: 'IngressClass', apiVersion: 'networking.k8s.io/v1', apiGroup: 'networking.k8s.io', resource: 'ingressclasses', namespaced: false,
    path: () => collectionPath('networking.k8s.io', 'v1', 'ingressclasses', undefined),
  },
  {
    kind: 'Service', apiVersion: 'v1', apiGroup: '', resource: 'services', namespaced: true,
    path: (ns) => collectionPath('', 'v1', 'services', ns),
  },
  {
    kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', apiGroup: 'discovery.k8s.io', resource: 'endpointslices', namespaced: true,
    path: (ns) => collectionPath('discovery.k8s.io', 'v1', 'endpointslices', ns),
  },
  {
    kind: 'Secret', apiVersion: 'v1', apiGroup: '', resource: 'secrets', namespaced: true,
    fieldSelector: 'type=kubernetes.io/tls',
    path: (ns) => collectionPath('', 'v1', 'secrets', ns),
  },
];
