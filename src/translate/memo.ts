// Memoized pieces of translate, so that a rebuild after one change costs O(what changed) plus a
// cheap assembly, instead of re-reading every Ingress and re-resolving every endpoint.
//
// translate stays a PURE function of its snapshot: a memo only ever returns what the computation
// would return, never something else.
//   - Entries are keyed by FROZEN objects (WeakMap): the sources hand the store deeply frozen
//     objects (src/sources/normalize.ts) and the store keeps the same object while it is unchanged,
//     so an unchanged object finds its entry again. An object that is not frozen (a test building
//     a snapshot by hand) is never memoized: nothing guarantees it is still the same content.
//   - An entry records everything else its value was computed from (the Service objects an
//     Ingress's backends resolved against, the EndpointSlices of an upstream) and is reused only
//     when those are the very same objects in the current snapshot (identity checks).
//   - Entries live as long as their key object: nothing to evict, nothing to reset.
// Besides speed, reuse gives structural sharing: an unchanged Ingress yields the same Route
// objects, an unchanged Service the same Upstream, so compile() and the controller's "did the
// config change" check can skip unchanged parts by identity.
import type { Diagnostic } from '../model/diagnostic.ts';
import type { EndpointSlice, Ingress, Service } from '../model/kube.ts';
import type { Upstream } from '../model/route-config.ts';
import type { ServiceIndex, UpstreamTarget } from './backends.ts';

/** True when `value` may key a memo (see the header). */
export function isMemoizable(value: object): boolean {
  return Object.isFrozen(value);
}

/** What reading one Ingress produced, and the Service lookups it depended on. */
interface ReadMemo<T> {
  /** Flat pairs: Service key, then the Service found under it (or undefined). */
  readonly lookups: readonly (string | Service | undefined)[];
  readonly value: T;
  readonly diagnostics: readonly Diagnostic[];
}

const readMemo = new WeakMap<Ingress, ReadMemo<unknown>>();

function lookupsHold(lookups: readonly (string | Service | undefined)[], index: ServiceIndex): boolean {
  for (let i = 0; i < lookups.length; i += 2) {
    if (index.services.get(lookups[i] as string) !== lookups[i + 1]) return false;
  }
  return true;
}

/**
 * `read(ingress, index, report)` memoized per Ingress object. `read` must depend only on the
 * Ingress and on `index.services` lookups (recorded here); its diagnostics are replayed on reuse.
 */
export function readIngressMemoized<T>(
  ingress: Ingress,
  index: ServiceIndex,
  report: (diagnostic: Diagnostic) => void,
  read: (ingress: Ingress, index: ServiceIndex, report: (diagnostic: Diagnostic) => void) => T,
): T {
  // Only frozen Ingresses are ever stored, so a hit needs no frozen check.
  const memo = readMemo.get(ingress) as ReadMemo<T> | undefined;
  if (memo !== undefined && lookupsHold(memo.lookups, index)) {
    for (const d of memo.diagnostics) report(d);
    return memo.value;
  }
  if (!isMemoizable(ingress)) return read(ingress, index, report);
  const lookups: (string | Service | undefined)[] = [];
  const diagnostics: Diagnostic[] = [];
  const recording: ServiceIndex = {
    services: {
      get(key: string): Service | undefined {
        const service = index.services.get(key);
        lookups.push(key, service);
        return service;
      },
    },
    slices: index.slices,
  };
  const value = read(ingress, recording, (d) => diagnostics.push(d));
  readMemo.set(ingress, { lookups, value, diagnostics });
  for (const d of diagnostics) report(d);
  return value;
}

/**
 * Upstreams, memoized at two levels. By the UpstreamTarget they were built from: a target comes
 * from a memoized Ingress read, so it is the same object while that Ingress and its Service are
 * unchanged, and the hit costs no key string. Else by the (frozen) Service and "key\0portName"
 * (what an upstream is built from besides the slices): another Ingress's target for the same
 * Service port finds the same Upstream object. Either entry is valid while the Service's
 * EndpointSlices are the same objects in the same order.
 */
interface UpstreamMemo {
  readonly sliceKey: string;
  readonly slices: readonly EndpointSlice[];
  readonly upstream: Upstream;
}
const upstreamByTarget = new WeakMap<UpstreamTarget, UpstreamMemo>();
const upstreamByService = new WeakMap<Service, Map<string, UpstreamMemo>>();

function sameElements<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * `build(slices)` memoized (see above). `sliceKey` names the target's slices in `index.slices`
 * (null: it reads none, as for an ExternalName Service); `build` must depend only on the target's
 * key, Service, Service port and those slices.
 */
export function buildUpstreamMemoized(
  target: UpstreamTarget,
  index: ServiceIndex,
  sliceKey: (target: UpstreamTarget) => string | null,
  build: (slices: readonly EndpointSlice[]) => Upstream,
): Upstream {
  const hit = upstreamByTarget.get(target);
  if (hit !== undefined && sameElements(hit.slices, index.slices.get(hit.sliceKey) ?? NO_SLICES)) return hit.upstream;
  const key = sliceKey(target) ?? NO_KEY;
  const slices = key === NO_KEY ? NO_SLICES : (index.slices.get(key) ?? NO_SLICES);
  if (!isMemoizable(target.service) || !slices.every(isMemoizable)) return build(slices);
  const id = `${target.key}\u0000${target.servicePort.name ?? ''}`;
  let perService = upstreamByService.get(target.service);
  let memo = perService?.get(id);
  if (memo === undefined || !sameElements(memo.slices, slices)) {
    memo = { sliceKey: key, slices, upstream: build(slices) };
    if (perService === undefined) upstreamByService.set(target.service, (perService = new Map()));
    perService.set(id, memo);
  }
  upstreamByTarget.set(target, memo);
  return memo.upstream;
}

const NO_SLICES: readonly EndpointSlice[] = Object.freeze([]);
/** A slice key no Service has (keys are "namespace/name"): no slices. */
const NO_KEY = '';

/**
 * `compute(object)` memoized per frozen object (a pure function of that object alone). `compute`
 * never returns undefined (a hit is one WeakMap lookup).
 */
export function memoizeByObject<K extends object, V extends NonNullable<unknown> | null>(compute: (key: K) => V): (key: K) => V {
  const memo = new WeakMap<K, V>();
  return (key: K): V => {
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    const value = compute(key);
    if (isMemoizable(key)) memo.set(key, value);
    return value;
  };
}

export { sameElements };
