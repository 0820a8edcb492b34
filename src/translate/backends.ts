// IngressBackend -> BackendRef. A Service backend resolves to an upstream key "ns/svc:<port number>"
// (by-name and by-number references to the same port share one upstream). What cannot be resolved
// (missing Service or port, `resource` backends) keeps its route with upstream null, so the proxy
// answers 503 there instead of letting the request fall through to some other route.
import type { EndpointSlice, IngressBackend, Service, ServicePort } from '../model/kube.ts';
import type { BackendRef } from '../model/route-config.ts';
import { compareByName, diffLists } from './list-diff.ts';
import { memoizeByObject } from './memo.ts';
import { isObject, listOf } from './shape.ts';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** Services and their EndpointSlices by "namespace/name", built once per translate. */
export interface ServiceIndex {
  /** Only `get`: memo.ts records every lookup an Ingress makes. */
  readonly services: { get(key: string): Service | undefined };
  readonly slices: ReadonlyMap<string, readonly EndpointSlice[]>;
}

export function namespaceOf(meta: { readonly namespace?: string }): string {
  return meta.namespace || 'default';
}

/**
 * The last lists indexed and their maps: a snapshot whose Service (or EndpointSlice) list is the
 * very same frozen array as last time reuses that map (the store keeps a kind's list while none of
 * its objects changed). A cache of a pure function: the result is the same either way.
 */
let lastServices: { readonly list: readonly Service[]; readonly map: ReadonlyMap<string, Service> } | null = null;
let lastSlices: { readonly list: readonly EndpointSlice[]; readonly map: ReadonlyMap<string, readonly EndpointSlice[]> } | null = null;

export function indexServices(services: readonly Service[], slices: readonly EndpointSlice[]): ServiceIndex {
  let byName = lastServices !== null && lastServices.list === services ? lastServices.map : null;
  if (byName === null) {
    const map = new Map<string, Service>();
    for (const service of services) map.set(`${namespaceOf(service.metadata)}/${service.metadata.name}`, service);
    byName = map;
    if (Object.isFrozen(services)) lastServices = { list: services, map };
  }
  let slicesByService = lastSlices !== null && lastSlices.list === slices ? lastSlices.map : null;
  if (slicesByService === null && lastSlices !== null && Object.isFrozen(slices)) {
    const patched = patchSliceIndex(lastSlices.list, lastSlices.map, slices);
    if (patched !== null) {
      slicesByService = patched.map;
      lastSliceChange = { from: lastSlices.list, to: slices, services: patched.services };
      lastSlices = { list: slices, map: patched.map };
    }
  }
  if (slicesByService === null) {
    const map = new Map<string, EndpointSlice[]>();
    for (const slice of slices) {
      const key = sliceServiceKey(slice);
      if (key === null) continue;
      let list = map.get(key);
      if (list === undefined) map.set(key, (list = []));
      list.push(slice);
    }
    slicesByService = map;
    if (Object.isFrozen(slices)) lastSlices = { list: slices, map };
  }
  return { services: byName, slices: slicesByService };
}

/** The last patched slice index: from which list to which, and the Services whose slices changed. */
let lastSliceChange: { readonly from: readonly EndpointSlice[]; readonly to: readonly EndpointSlice[]; readonly services: ReadonlySet<string> } | null = null;

/**
 * The "namespace/service" keys whose EndpointSlices differ between the slice lists `from` and
 * `to`, when indexServices last went from one to the other by patching; else null (unknown).
 */
export function changedSliceServices(from: readonly EndpointSlice[], to: readonly EndpointSlice[]): ReadonlySet<string> | null {
  const change = lastSliceChange;
  return change !== null && change.from === from && change.to === to ? change.services : null;
}

/** Above this many slices added or removed, the slice index is built anew instead of patched. */
const MAX_PATCHED_SLICES = 64;

/**
 * The slice index of `next` from that of `last` (diffLists): only the Services of the slices
 * removed or added get new arrays. Null when too many slices differ.
 */
function patchSliceIndex(
  last: readonly EndpointSlice[],
  lastMap: ReadonlyMap<string, readonly EndpointSlice[]>,
  next: readonly EndpointSlice[],
): { readonly map: ReadonlyMap<string, readonly EndpointSlice[]>; readonly services: ReadonlySet<string> } | null {
  // 1. The diff (list-diff.ts).
  const diff = diffLists(last, next, MAX_PATCHED_SLICES);
  if (diff === null) return null;
  const removed = new Set(diff.removed);
  const added = diff.added;
  // 2. New arrays for the Services touched, in list order like a full index.
  const services = new Set<string>();
  for (const slice of removed) addKey(services, sliceServiceKey(slice));
  for (const slice of added) addKey(services, sliceServiceKey(slice));
  const map = new Map(lastMap);
  for (const key of services) {
    const kept = (lastMap.get(key) ?? []).filter((slice) => !removed.has(slice));
    for (const slice of added) {
      if (sliceServiceKey(slice) !== key) continue;
      let at = kept.length;
      while (at > 0 && compareByName(kept[at - 1], slice) > 0) at--;
      kept.splice(at, 0, slice);
    }
    if (kept.length > 0) map.set(key, kept);
    else map.delete(key);
  }
  return { map, services };
}

function addKey(keys: Set<string>, key: string | null): void {
  if (key !== null) keys.add(key);
}

/** "namespace/service" an EndpointSlice belongs to (label kubernetes.io/service-name), or null. */
const sliceServiceKey = memoizeByObject((slice: EndpointSlice): string | null => {
  if (!isObject(slice.metadata)) return null;
  const serviceName = slice.metadata.labels?.[SERVICE_NAME_LABEL];
  if (serviceName === undefined || serviceName === '') return null;
  return `${namespaceOf(slice.metadata)}/${serviceName}`;
});

/** A resolved Service port: what an Upstream is built from. */
export interface UpstreamTarget {
  readonly key: string;
  readonly namespace: string;
  readonly service: Service;
  /** The Service port (synthesized from the number for an ExternalName Service without ports). */
  readonly servicePort: ServicePort;
}

export interface BackendProblem {
  readonly severity: 'error' | 'warning';
  readonly reason: 'ServiceNotFound' | 'ServicePortNotFound' | 'ResourceBackendUnsupported';
  readonly message: string;
}

export type BackendResolution =
  | { readonly ok: false; readonly error: string }
  | { readonly ok: true; readonly ref: BackendRef; readonly target: UpstreamTarget | null; readonly problem: BackendProblem | null };

export function upstreamKey(namespace: string, service: string, port: number): string {
  return [namespace, '/', service, ':', port].join(''); // flat, not a cons tree (PROFILE.md 6c)
}

function isPortNumber(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

/**
 * Resolves an Ingress backend (a path's or spec.defaultBackend) in the Ingress's namespace.
 * `ok: false` means the backend itself is invalid (the caller skips it); otherwise a BackendRef,
 * possibly with upstream null and the problem that caused it.
 */
export function resolveIngressBackend(backend: IngressBackend | undefined, namespace: string, index: ServiceIndex): BackendResolution {
  if (backend === undefined || backend === null) return { ok: false, error: 'the backend is missing' };
  if (!isObject(backend)) return { ok: false, error: `the backend ${JSON.stringify(backend)} is not an object` };
  const { service, resource } = backend;
  if (service && resource) return { ok: false, error: 'the backend sets both service and resource (exactly one is allowed)' };
  if (resource) {
    if (!isObject(resource) || typeof resource.kind !== 'string' || typeof resource.name !== 'string') {
      return { ok: false, error: 'the resource backend needs a kind and a name' };
    }
    const kind = resource.apiGroup ? `${resource.kind}.${resource.apiGroup}` : resource.kind;
    return {
      ok: true,
      ref: { service: null, upstream: null },
      target: null,
      problem: { severity: 'error', reason: 'ResourceBackendUnsupported', message: `resource backends (${kind} "${resource.name}") are not supported; requests get 503` },
    };
  }
  if (!isObject(service) || typeof service.name !== 'string' || service.name === '') return { ok: false, error: 'the backend names no service' };
  const port = isObject(service.port) ? service.port : undefined;
  const hasName = typeof port?.name === 'string' && port.name !== '';
  const hasNumber = port?.number !== undefined && port?.number !== null;
  if (hasName && hasNumber) return { ok: false, error: `the backend service "${service.name}" sets both port.name and port.number (exactly one is allowed)` };
  if (hasNumber && !isPortNumber(port!.number)) return { ok: false, error: `the backend service "${service.name}" has an invalid port.number ${JSON.stringify(port!.number)} (1..65535)` };
  if (!hasName && !hasNumber) return { ok: false, error: `the backend service "${service.name}" sets neither port.name nor port.number` };
  return resolveServiceBackend(namespace, service.name, hasName ? port!.name! : port!.number!, index);
}

/**
 * Resolves Service `name` port `port` (a number matches a Service port's `port`, a string its
 * `name`; a string of digits counts as a number) in `namespace`.
 */
export function resolveServiceBackend(namespace: string, name: string, port: number | string, index: ServiceIndex): BackendResolution & { ok: true } {
  const portRef = typeof port === 'string' && /^\d+$/.test(port) ? Number(port) : port;
  const service = index.services.get(`${namespace}/${name}`);
  const unresolved = { service: { namespace, name, port: portRef }, upstream: null };
  if (service === undefined) {
    return {
      ok: true,
      ref: unresolved,
      target: null,
      problem: { severity: 'error', reason: 'ServiceNotFound', message: `Service "${namespace}/${name}" not found; requests get 503` },
    };
  }
  const servicePort = findServicePort(service, portRef);
  if (servicePort === undefined) {
    const what = typeof portRef === 'number' ? `port ${portRef}` : `port named "${portRef}"`;
    return {
      ok: true,
      ref: unresolved,
      target: null,
      problem: { severity: 'error', reason: 'ServicePortNotFound', message: `Service "${namespace}/${name}" has no ${what}; requests get 503` },
    };
  }
  const key = upstreamKey(namespace, name, servicePort.port);
  return { ok: true, ref: { service: { namespace, name, port: portRef }, upstream: key }, target: { key, namespace, service, servicePort }, problem: null };
}

function findServicePort(service: Service, port: number | string): ServicePort | undefined {
  const ports = listOf(service.spec?.ports);
  if (typeof port === 'string') return ports.find((p) => isObject(p) && p.name === port && isPortNumber(p.port));
  const found = ports.find((p) => isObject(p) && p.port === port);
  if (found !== undefined) return found;
  // An ExternalName Service often declares no ports: a port number then means "that port on the
  // external name", as in ingress-nginx.
  if (isExternalName(service) && isPortNumber(port)) return { port };
  return undefined;
}

export function isExternalName(service: Service): boolean {
  return service.spec?.type === 'ExternalName';
}
