// translate(snapshot) -> RouteConfig + Diagnostics. PURE: no I/O, clock, randomness or logger, and
// the output depends only on the snapshot's content, never on the order of its lists.
// The rules are documented in README "Routing rules"; the golden files in test/translate/fixtures
// are the spec.
import type { Diagnostic } from '../model/diagnostic.ts';
import type { Ingress, ObjectRef } from '../model/kube.ts';
import type { BackendRef, Route, RouteConfig, TranslateResult, Upstream, VirtualHost } from '../model/route-config.ts';
import type { Snapshot, TranslateOptions } from '../model/snapshot.ts';
import type { ServiceIndex, UpstreamTarget } from './backends.ts';
import { changedSliceServices, indexServices, isExternalName, resolveServiceBackend } from './backends.ts';
import { attachCanaryIngresses, canaryAnnotationDiagnostics, isCanaryIngress, partitionCanaryIngresses } from './canary.ts';
import { compareByName, diffLists } from './list-diff.ts';
import { buildUpstream, upstreamSliceKey } from './endpoints.ts';
import { memoizeByObject, readIngressMemoized, sameElements } from './memo.ts';
import type { HostKind } from './hosts.ts';
import { indexIngressClasses, isIngressOwned } from './ingress-class.ts';
import { compareDiagnostics, compareIngressAge, compareRoutes, compareStrings, compareVirtualHosts } from './order.ts';
import { regexHostRoutes } from './regex-paths.ts';
import type { CandidateRoute, IngressRoutes, ResolvedBackend } from './rules.ts';
import { ingressRef, translateIngressRules } from './rules.ts';
import { TlsHosts, reportUnsupportedAnnotations, withSslRedirect } from './route-settings.ts';
import { translateTls } from './tls.ts';

interface HostBuilder {
  readonly host: string;
  readonly kind: HostKind;
  /** Winning routes, one per match + matchPath, in arrival order (see claimMatch). */
  readonly routes: CandidateRoute[];
  /** Index of `routes` by "match matchPath", built once a host has many routes. */
  byMatch: Map<string, CandidateRoute> | null;
  defaultBackend: { readonly backend: ResolvedBackend; readonly from: ObjectRef } | null;
}

export function translate(snapshot: Snapshot, options: TranslateOptions): TranslateResult {
  const last = lastTranslate;
  // An EndpointSlice-only change (the most frequent kind: every rollout) keeps every route: only
  // the upstreams of the Services whose slices changed are built again (patchUpstreams).
  const index = indexServices(snapshot.services, snapshot.endpointSlices);
  if (
    last !== null &&
    last.options === options &&
    last.snapshot.ingresses === snapshot.ingresses &&
    last.snapshot.ingressClasses === snapshot.ingressClasses &&
    last.snapshot.services === snapshot.services &&
    last.snapshot.secrets === snapshot.secrets
  ) {
    const changed = changedSliceServices(last.snapshot.endpointSlices, snapshot.endpointSlices);
    if (changed !== null) return remember(snapshot, options, last.routing, patchUpstreams(last.upstreams, changed, index));
  }
  // A few Ingresses edited, added or removed (nothing else that routes depend on): patchRouting.
  const patched =
    last !== null &&
    last.options === options &&
    last.snapshot.ingressClasses === snapshot.ingressClasses &&
    last.snapshot.services === snapshot.services &&
    last.snapshot.secrets === snapshot.secrets
      ? patchRouting(last.routing, last.snapshot.ingresses, snapshot, options, index)
      : null;
  if (patched !== null && last !== null) {
    // The upstream targets changed only where the patched hosts' uses did.
    const targets = patchTargets(last.upstreams.targets, patched.targetChange);
    const upstreams =
      last.snapshot.endpointSlices === snapshot.endpointSlices
        ? patchUpstreamSet(last.upstreams, patched.targetChange, index)
        : buildUpstreams(targets, index, last.upstreams);
    return remember(snapshot, options, { ...patched.routing, targets: upstreams.targets }, upstreams);
  }
  const routing = translateRouting(snapshot, options, index);
  return remember(snapshot, options, routing, buildUpstreams(routing.targets, index, last?.upstreams ?? null));
}

/** Everything translate derives without looking at endpoints (steps 1-4, 6, 7). */
interface RoutingPart {
  readonly virtualHosts: readonly VirtualHost[];
  readonly defaultBackend: BackendRef | null;
  readonly tls: ReturnType<typeof translateTls>;
  /** Upstream targets, in first-use order. */
  readonly targets: readonly UpstreamTarget[];
  /** Every diagnostic of these steps (unsorted; sortUnique'd with step 5's). */
  readonly diagnostics: readonly Diagnostic[];
  /** For patchRouting: the host assembly (with the main Ingresses and their reads), how many canaries, step 4. */
  readonly assembly: HostAssembly;
  readonly canaries: number;
  readonly globalDefault: ResolvedBackend | null;
  /** Uses per upstream key (routes, host defaults, the controller-wide default); null with canaries. */
  readonly uses: ReadonlyMap<string, number> | null;
}

/** Upstream keys no longer used, and targets of keys newly used (patchRouting). */
interface TargetChange {
  readonly removed: ReadonlySet<string>;
  readonly added: readonly UpstreamTarget[];
}

function patchTargets(last: readonly UpstreamTarget[], change: TargetChange): UpstreamTarget[] {
  const targets = change.removed.size === 0 ? last.slice() : last.filter((t) => !change.removed.has(t.key));
  for (const t of change.added) targets.push(t);
  return targets;
}

/**
 * buildUpstreams for the targets patchTargets gives, when the slices are the same: the removed
 * keys' upstreams leave, the added ones are built; every other upstream is kept as it is.
 */
function patchUpstreamSet(last: UpstreamPart, change: TargetChange, index: ServiceIndex): UpstreamPart {
  const targets: UpstreamTarget[] = [];
  const sliceKeys: (string | null)[] = [];
  const built: Upstream[] = [];
  const problems: (Diagnostic | null)[] = [];
  const sorted = last.sorted.slice();
  for (let i = 0; i < last.targets.length; i++) {
    if (change.removed.has(last.targets[i].key)) continue;
    targets.push(last.targets[i]);
    sliceKeys.push(last.sliceKeys[i]);
    built.push(last.built[i]);
    problems.push(last.problems[i]);
  }
  for (const key of change.removed) sorted.splice(findUpstream(sorted, key), 1);
  for (const target of change.added) {
    const upstream = buildUpstream(target, index);
    targets.push(target);
    sliceKeys.push(upstreamSliceKey(target));
    built.push(upstream);
    problems.push(noReadyEndpoints(target, upstream));
    sorted.splice(findUpstream(sorted, upstream.key), 0, upstream);
  }
  return { targets, sliceKeys, built, problems, sorted };
}

/** Uses per upstream key of an assembly and the controller-wide default. */
function countUses(used: readonly UpstreamTarget[], globalDefault: ResolvedBackend | null): Map<string, number> {
  const uses = new Map<string, number>();
  for (const t of used) uses.set(t.key, (uses.get(t.key) ?? 0) + 1);
  const d = globalDefault?.target ?? null;
  if (d !== null) uses.set(d.key, (uses.get(d.key) ?? 0) + 1);
  return uses;
}

/** Above this many Ingresses changed, patchRouting is not tried. */
const MAX_PATCHED_ROUTING = 16;

/**
 * translateRouting for a snapshot whose Ingresses differ from those of `last` in a few objects
 * (edited, added, removed), everything else routes depend on being the same (the caller checks);
 * null when that is not simple, then the caller translates in full. Only when: no canary Ingress
 * before, none among the changed Ingresses after, and no changed Ingress (before or after) that
 * is ours sets spec.tls or spec.defaultBackend (certificates, ssl-redirect hosts and the
 * controller-wide default then stay as they are). The diagnostics of the changed Ingresses leave
 * (by value) and come back as they are now; the host assembly is patched (applyEdits).
 */
function patchRouting(
  last: RoutingPart,
  before: readonly Ingress[],
  snapshot: Snapshot,
  options: TranslateOptions,
  index: ServiceIndex,
): { readonly routing: RoutingPart; readonly targetChange: TargetChange } | null {
  const after = snapshot.ingresses;
  if (last.canaries > 0 || last.uses === null || before === after || !Object.isFrozen(after)) return null;
  const diff = diffLists(before, after, MAX_PATCHED_ROUTING);
  if (diff === null) return null;
  // 1. Pair the objects that left and came by key: an edit, a removal or an addition each.
  const changes = new Map<string, { old: Ingress | null; now: Ingress | null }>();
  const key = (i: Ingress): string => `${i.metadata?.namespace ?? ''}/${i.metadata?.name ?? ''}`;
  for (const i of diff.removed) changes.set(key(i), { old: i, now: null });
  for (const i of diff.added) {
    const change = changes.get(key(i));
    if (change !== undefined && change.now === null) change.now = i;
    else if (change === undefined) changes.set(key(i), { old: null, now: i });
    else return null; // two objects under one key: not a store's list
  }
  // 2. Per change: ours (and main) before/after, the diagnostics it contributed, its read.
  const classes = indexIngressClasses(snapshot.ingressClasses, options);
  const diagnostics = last.diagnostics.slice();
  const main = last.assembly.main.slice();
  const reads = last.assembly.reads.slice();
  const edits: AssemblyEdit[] = [];
  const isMain = (ingress: Ingress | null): ingress is Ingress => ingress !== null && isIngressOwned(ingress, classes, options);
  for (const { old, now } of changes.values()) {
    const wasMain = isMain(old);
    const nowMain = isMain(now);
    for (const ingress of [wasMain ? old : null, nowMain ? now : null]) {
      if (ingress === null) continue;
      if (isCanaryIngress(ingress) || hasTls(ingress) || ingress.spec?.defaultBackend !== undefined) return null;
    }
    let oldRead: IngressRoutes | null = null;
    let newRead: IngressRoutes | null = null;
    if (wasMain) {
      const gone: Diagnostic[] = [...unsupportedAnnotations(old), ...canaryAnnotationDiagnostics(old)];
      oldRead = readIngressMemoized(old, index, (d) => gone.push(d), readIngress);
      if (!removeDiagnostics(diagnostics, gone)) return null;
    }
    if (nowMain) {
      for (const d of unsupportedAnnotations(now)) diagnostics.push(d);
      for (const d of canaryAnnotationDiagnostics(now)) diagnostics.push(d);
      newRead = readIngressMemoized(now, index, (d) => diagnostics.push(d), readIngress);
    }
    // The main list (snapshot order) gets the same edit.
    const probe = (now ?? old)!;
    let at = 0;
    let hi = main.length;
    while (at < hi) {
      const mid = (at + hi) >>> 1;
      if (compareByName(main[mid], probe) < 0) at = mid + 1;
      else hi = mid;
    }
    const found = at < main.length && compareByName(main[at], probe) === 0;
    if (found !== wasMain || (wasMain && main[at] !== old)) return null;
    if (wasMain && nowMain) {
      main[at] = now;
      reads[at] = newRead;
    } else if (wasMain) {
      main.splice(at, 1);
      reads.splice(at, 1);
    } else if (nowMain) {
      main.splice(at, 0, now);
      reads.splice(at, 0, newRead);
    }
    if (oldRead !== null || newRead !== null) edits.push({ before: oldRead, after: newRead });
  }
  // 3. Hosts (steps 3 and 5), then the targets as translateRouting collects them.
  const lastAssemblyNow = last.assembly;
  const assembly = edits.length === 0 ? { ...lastAssemblyNow, main, reads, left: [], came: [] } : applyEdits(lastAssemblyNow, edits, main, reads);
  if (assembly === null) return null;
  if (!removeDiagnostics(diagnostics, lastAssemblyNow.diagnostics)) return null;
  for (const d of assembly.diagnostics) diagnostics.push(d);
  lastAssembly = assembly;
  // 4. Uses per key: the patched hosts' old uses out, their new ones in (the default stays).
  const uses = new Map(last.uses);
  const removed = new Set<string>();
  const added: UpstreamTarget[] = [];
  for (const t of assembly.left ?? []) {
    const n = uses.get(t.key)! - 1;
    if (n > 0) uses.set(t.key, n);
    else {
      uses.delete(t.key);
      removed.add(t.key);
    }
  }
  for (const t of assembly.came ?? []) {
    const n = uses.get(t.key) ?? 0;
    uses.set(t.key, n + 1);
    if (n > 0) continue;
    if (removed.has(t.key)) removed.delete(t.key); // still used: keeps its upstream
    else added.push(t);
  }
  const routing: RoutingPart = {
    virtualHosts: assembly.virtualHosts.slice(), // as attachCanaryIngresses returns them without canaries
    defaultBackend: last.defaultBackend,
    tls: last.tls,
    targets: last.targets, // replaced by the caller (patchTargets)
    diagnostics,
    assembly,
    canaries: 0,
    globalDefault: last.globalDefault,
    uses,
  };
  return { routing, targetChange: { removed, added } };
}


/** Step 5's upstreams: per target (same positions), its Upstream and NoReadyEndpoints diagnostic. */
interface UpstreamPart {
  readonly targets: readonly UpstreamTarget[];
  /** Where each target's EndpointSlices are in ServiceIndex.slices (null: none are read). */
  readonly sliceKeys: readonly (string | null)[];
  readonly built: readonly Upstream[];
  readonly problems: readonly (Diagnostic | null)[];
  /** `built` sorted by key: RouteConfig.upstreams. */
  readonly sorted: readonly Upstream[];
}

/**
 * The previous call's input and its two parts, for the EndpointSlice-only path. A cache of a pure
 * function: that path returns exactly what a full translate of the snapshot returns.
 */
let lastTranslate: { readonly snapshot: Snapshot; readonly options: TranslateOptions; readonly routing: RoutingPart; readonly upstreams: UpstreamPart } | null = null;

function remember(snapshot: Snapshot, options: TranslateOptions, routing: RoutingPart, upstreams: UpstreamPart): TranslateResult {
  lastTranslate = Object.isFrozen(snapshot) ? { snapshot, options, routing, upstreams } : null;
  const { tls } = routing;
  const config: RouteConfig = {
    virtualHosts: routing.virtualHosts,
    defaultBackend: routing.defaultBackend,
    upstreams: upstreams.sorted,
    ...(tls.certificates.length > 0 ? { certificates: tls.certificates } : {}),
    ...(tls.defaultCertificate !== null ? { defaultCertificate: tls.defaultCertificate } : {}),
  };
  const diagnostics = routing.diagnostics.slice();
  for (const d of upstreams.problems) if (d !== null) diagnostics.push(d);
  return { config, diagnostics: sortUnique(diagnostics) };
}

/**
 * Step 5: every target's Upstream, and a warning for each without a ready endpoint. The very same
 * Upstreams as `previous` (memo.ts shares unchanged ones) keep its sorted list: no sort per change.
 */
function buildUpstreams(targets: readonly UpstreamTarget[], index: ServiceIndex, previous: UpstreamPart | null): UpstreamPart {
  const built: Upstream[] = [];
  const problems: (Diagnostic | null)[] = [];
  for (const target of targets) {
    const upstream = buildUpstream(target, index);
    built.push(upstream);
    problems.push(noReadyEndpoints(target, upstream));
  }
  if (previous !== null && sameElements(previous.built, built)) return { targets, sliceKeys: previous.sliceKeys, built, problems, sorted: previous.sorted };
  const sorted = built.slice().sort((a, b) => compareStrings(a.key, b.key));
  return { targets, sliceKeys: targets.map(upstreamSliceKey), built, problems, sorted };
}

/** buildUpstreams for the same targets when only the slices of the Services `changed` differ. */
function patchUpstreams(last: UpstreamPart, changed: ReadonlySet<string>, index: ServiceIndex): UpstreamPart {
  const built = last.built.slice();
  const problems = last.problems.slice();
  const sorted = last.sorted.slice();
  for (let i = 0; i < last.targets.length; i++) {
    const sliceKey = last.sliceKeys[i];
    if (sliceKey === null || !changed.has(sliceKey)) continue;
    const target = last.targets[i];
    const upstream = buildUpstream(target, index);
    sorted[findUpstream(sorted, upstream.key)] = upstream;
    built[i] = upstream;
    problems[i] = noReadyEndpoints(target, upstream);
  }
  return { targets: last.targets, sliceKeys: last.sliceKeys, built, problems, sorted };
}

/** Index of the upstream with `key` in a list sorted by key (it is there: same targets). */
function findUpstream(sorted: readonly Upstream[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareStrings(sorted[mid].key, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function noReadyEndpoints(target: UpstreamTarget, upstream: Upstream): Diagnostic | null {
  if (upstream.endpoints.some((e) => e.ready)) return null;
  const why = isExternalName(target.service)
    ? 'is an ExternalName Service without spec.externalName'
    : `has ${upstream.endpoints.length === 0 ? 'no endpoints' : 'no ready endpoints'} for port ${upstream.servicePort}`;
  return {
    severity: 'warning',
    object: { kind: 'Service', namespace: upstream.namespace, name: upstream.service },
    reason: 'NoReadyEndpoints',
    message: `the Service ${why}; requests routed to it get 503`,
  };
}

function translateRouting(snapshot: Snapshot, options: TranslateOptions, index: ServiceIndex): RoutingPart {
  const diagnostics: Diagnostic[] = [];
  const report = (diagnostic: Diagnostic): void => {
    diagnostics.push(diagnostic);
  };

  // 1. Our Ingresses; canary Ingresses are set aside (they never build routes, hosts or defaults
  //    of their own and never win conflicts; step 6 attaches them to main routes).
  const classes = indexIngressClasses(snapshot.ingressClasses, options);
  const owned = snapshot.ingresses.filter((ingress) => isIngressOwned(ingress, classes, options));
  const { main, canary } = partitionCanaryIngresses(owned);
  for (const ingress of owned) for (const d of unsupportedAnnotations(ingress)) report(d);

  // 2. Read every main Ingress (assembleHosts orders them oldest first: that order decides every
  //    conflict). Reading is memoized per Ingress object (memo.ts): an unchanged Ingress whose Services are
  //    unchanged costs a lookup, and yields the same Route objects as last time.
  const read = (ingress: Ingress): IngressRoutes | null => readIngressMemoized(ingress, index, report, readIngress);
  const reads = main.map(read);

  // 3.-5. Virtual hosts from the main Ingresses (assembleHosts), reused whole when every main
  //    Ingress read is the very same as last time (an EndpointSlice or unrelated change).
  const assembly = assembleHosts(main, reads);
  const { ingresses, virtualHosts, used, diagnostics: hostDiagnostics } = assembly;
  for (const d of hostDiagnostics) report(d);

  // 4. The controller-wide default backend: the oldest Ingress's spec.defaultBackend, else
  //    --default-backend-service, else none (404).
  const globalDefault = selectGlobalDefault(ingresses, options, index, report);

  // 5. Upstreams: only Service ports something in the output refers to (collected here and in 6).
  const targets = new Map<string, UpstreamTarget>();
  const use = (target: UpstreamTarget | null): void => {
    if (target !== null && !targets.has(target.key)) targets.set(target.key, target);
  };
  for (const target of used) use(target);
  use(globalDefault?.target ?? null);

  // 6. Canary Ingresses: read like main Ingresses, attached to the main route with the same host,
  //    path and pathType (canary.ts).
  const withCanaries = attachCanaryIngresses(
    main,
    canary,
    virtualHosts,
    (ingress) => read(ingress) ?? { routes: [], defaultBackend: null },
    diagnostics,
    use,
  );

  // 7. Certificates for the HTTPS listener (tls.ts).
  const tls = translateTls(main, snapshot.secrets, options, diagnostics);
  const uses = canary.length === 0 ? countUses(used, globalDefault) : null;
  return { virtualHosts: withCanaries, defaultBackend: globalDefault?.ref ?? null, tls, targets: [...targets.values()], diagnostics, assembly, canaries: canary.length, globalDefault, uses };
}

/** reportUnsupportedAnnotations of one Ingress, memoized per frozen Ingress (memo.ts). */
const unsupportedAnnotations = memoizeByObject((ingress: Ingress): readonly Diagnostic[] => {
  const diagnostics: Diagnostic[] = [];
  reportUnsupportedAnnotations(ingress.metadata.annotations, ingressRef(ingress), diagnostics);
  return diagnostics;
});

/** What steps 3 and 5 derive from the main Ingresses alone (see assembleHosts). */
interface HostAssembly {
  readonly main: readonly Ingress[];
  readonly reads: readonly (IngressRoutes | null)[];
  /** The Ingresses read, oldest first. */
  readonly ingresses: readonly IngressRoutes[];
  readonly tlsHosts: TlsHosts;
  /** Sorted (compareVirtualHosts), before canaries are attached. */
  readonly virtualHosts: readonly VirtualHost[];
  /** Upstream targets in the order the routes and host defaults use them (first use wins a key). */
  readonly used: readonly UpstreamTarget[];
  readonly diagnostics: readonly Diagnostic[];
  /** Set by applyEdits: the patched hosts' uses before and after (patchRouting counts them). */
  readonly left?: readonly UpstreamTarget[];
  readonly came?: readonly UpstreamTarget[];
}

/**
 * The previous assembly. It is a pure function of `main` and `reads` (the Ingress objects and
 * what reading them gave), so when both are the very same objects in the same order it is
 * returned as is (reads are new objects whenever they could differ: memo.ts), and when only a
 * few Ingresses were edited in place it is patched (patchAssembly).
 */
let lastAssembly: HostAssembly | null = null;

/**
 * Steps 2 (order), 3 and 5 (virtual hosts) of translate, from the main Ingresses and their reads
 * (same order; null: unreadable).
 */
function assembleHosts(main: readonly Ingress[], reads: readonly (IngressRoutes | null)[]): HostAssembly {
  const last = lastAssembly;
  if (last !== null && sameElements(last.main, main) && sameElements(last.reads, reads)) return last;
  const patched = last === null ? null : patchAssembly(last, main, reads);
  if (patched !== null) return (lastAssembly = patched);
  // 2. Oldest first: that order decides every conflict below.
  const ingresses = reads.filter((ingress) => ingress !== null);
  ingresses.sort((a, b) => compareIngressAge(a.age, b.age));
  const tlsHosts = collectTlsHosts(main);
  const interned = new Map<string, VirtualHost>();
  const built = buildHosts(ingresses, tlsHosts, null, interned);
  lastVirtualHosts = interned;
  built.virtualHosts.sort(compareVirtualHosts);
  lastAssembly = { main, reads, ingresses, tlsHosts, virtualHosts: built.virtualHosts, used: built.used, diagnostics: built.diagnostics };
  return lastAssembly;
}

/** At most this many edited Ingresses are patched into the previous assembly. */
const MAX_PATCHED_INGRESSES = 4;

/**
 * The previous assembly with a few Ingresses edited in place, or null when that is not simple
 * (then everything is assembled again). Only when: the same number of main Ingresses, at most
 * MAX_PATCHED_INGRESSES positions differ, each differing Ingress keeps its namespace, name and
 * creationTimestamp (so the age order is unchanged) and is readable before and after, none has
 * spec.tls before or after (TLS hosts decide ssl-redirect on every host), and no upstream key
 * touched is used with different Service ports (then which use comes first decides the upstream).
 * The hosts of the edited Ingresses are built again from all their Ingresses, with exactly the
 * code of the full assembly; everything else is kept.
 */
function patchAssembly(last: HostAssembly, main: readonly Ingress[], reads: readonly (IngressRoutes | null)[]): HostAssembly | null {
  if (main.length !== last.main.length || reads.length !== last.reads.length) return null;
  // 1. The edited positions.
  const edits: AssemblyEdit[] = [];
  for (let i = 0; i < main.length; i++) {
    if (main[i] === last.main[i] && reads[i] === last.reads[i]) continue;
    const before = last.reads[i];
    const after = reads[i];
    if (edits.length === MAX_PATCHED_INGRESSES || before === null || after === null) return null;
    if (compareIngressAge(before.age, after.age) !== 0 || before.age.createdAt !== after.age.createdAt) return null;
    if (hasTls(last.main[i]) || hasTls(main[i])) return null;
    edits.push({ before, after });
  }
  if (edits.length === 0) return null;
  return applyEdits(last, edits, main, reads);
}

/** One main Ingress read before and after a change; null: it was not there (or unreadable). */
interface AssemblyEdit {
  readonly before: IngressRoutes | null;
  readonly after: IngressRoutes | null;
}

/**
 * The assembly with `edits` applied (Ingresses edited, added or removed; none with spec.tls before
 * or after: the caller checks), given the new main Ingresses and their reads; null when that is
 * not simple (then everything is assembled again): an Ingress not found where it should be, a
 * creationTimestamp tie at an insert, or an upstream key touched that is used with different
 * Service ports (then which use comes first decides the upstream). The hosts of the edited
 * Ingresses are built again from all their Ingresses, with exactly the code of the full assembly;
 * everything else is kept.
 */
function applyEdits(last: HostAssembly, edits: readonly AssemblyEdit[], main: readonly Ingress[], reads: readonly (IngressRoutes | null)[]): HostAssembly | null {
  // 2. The new age order: an edit keeping its age takes its predecessor's place; otherwise the
  //    old read leaves and the new one goes where the age order puts it.
  const ingresses = last.ingresses.slice();
  const affected = new Set<string>();
  for (const { before, after } of edits) {
    if (before !== null && after !== null && compareIngressAge(before.age, after.age) === 0 && before.age.createdAt === after.age.createdAt) {
      const at = ingresses.indexOf(before);
      if (at === -1) return null;
      ingresses[at] = after;
    } else {
      if (before !== null) {
        const at = ingresses.indexOf(before);
        if (at === -1) return null;
        ingresses.splice(at, 1);
      }
      if (after !== null) {
        const at = findAge(ingresses, after);
        const tie = (i: number): boolean => i >= 0 && i < ingresses.length && compareIngressAge(ingresses[i].age, after.age) === 0;
        if (tie(at) || tie(at - 1)) return null; // equal ages keep snapshot order: not patched
        ingresses.splice(at, 0, after);
      }
    }
    for (const { host } of before?.hosts ?? []) affected.add(host);
    for (const { host } of after?.hosts ?? []) affected.add(host);
  }

  // 3. The affected hosts as they were and as they are now (same code as the full assembly, given
  //    only the Ingresses with an affected host, in the same order).
  const scratch = new Map<string, VirtualHost>();
  const old = buildHosts(onHosts(last.ingresses, affected), last.tlsHosts, affected, scratch);
  const now = buildHosts(onHosts(ingresses, affected), last.tlsHosts, affected, scratch);

  // 4. Upstream keys whose first use could move: refuse when any is used with two Service ports.
  //    The old uses of the affected hosts leave one for one (a target can also serve other hosts).
  const keys = new Map<string, UpstreamTarget>();
  for (const t of [...old.used, ...now.used]) keys.set(t.key, t);
  const leaving = new Map<UpstreamTarget, number>();
  for (const t of old.used) leaving.set(t, (leaving.get(t) ?? 0) + 1);
  const used: UpstreamTarget[] = [];
  for (const t of last.used) {
    const n = leaving.get(t);
    if (n !== undefined && n > 0) {
      leaving.set(t, n - 1);
      continue;
    }
    used.push(t);
    const seen = keys.get(t.key);
    if (seen !== undefined && seen.servicePort !== t.servicePort && (seen.servicePort.name ?? '') !== (t.servicePort.name ?? '')) return null;
  }
  for (const t of now.used) {
    const seen = keys.get(t.key)!;
    if (seen.servicePort !== t.servicePort && (seen.servicePort.name ?? '') !== (t.servicePort.name ?? '')) return null;
    used.push(t);
  }

  // 5. Virtual hosts: the affected ones replaced (sorted list patched by binary search).
  const virtualHosts = last.virtualHosts.slice();
  for (const vhost of old.virtualHosts) {
    const at = findSorted(virtualHosts, vhost);
    if (at < virtualHosts.length && virtualHosts[at].host === vhost.host) virtualHosts.splice(at, 1);
  }
  for (const vhost of now.virtualHosts) virtualHosts.splice(findSorted(virtualHosts, vhost), 0, vhost);
  const interned = lastVirtualHosts as Map<string, VirtualHost>;
  for (const host of affected) interned.delete(host);
  for (const vhost of now.virtualHosts) interned.set(vhost.host, vhost);

  // 6. Diagnostics: the affected hosts' old ones out (by value), their new ones in.
  const diagnostics = last.diagnostics.slice();
  if (!removeDiagnostics(diagnostics, old.diagnostics)) return null;
  for (const d of now.diagnostics) diagnostics.push(d);

  return { main, reads, ingresses, tlsHosts: last.tlsHosts, virtualHosts, used, diagnostics, left: old.used, came: now.used };
}

/** The Ingresses with a rule for one of `hosts`, in the same order (a plain loop: runs per change over all). */
function onHosts(ingresses: readonly IngressRoutes[], hosts: ReadonlySet<string>): IngressRoutes[] {
  const out: IngressRoutes[] = [];
  for (const ingress of ingresses) {
    const list = ingress.hosts;
    for (let h = 0; h < list.length; h++) {
      if (hosts.has(list[h].host)) {
        out.push(ingress);
        break;
      }
    }
  }
  return out;
}

/** Removes one copy of each of `gone` from `list` (compared by value); false if one is missing. */
function removeDiagnostics(list: Diagnostic[], gone: readonly Diagnostic[]): boolean {
  for (const d of gone) {
    const at = list.findIndex((x) => compareDiagnostics(x, d) === 0);
    if (at === -1) return false;
    list.splice(at, 1);
  }
  return true;
}

/** Index where `ingress` goes in a list sorted by compareIngressAge. */
function findAge(list: readonly IngressRoutes[], ingress: IngressRoutes): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareIngressAge(list[mid].age, ingress.age) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index where `vhost` is or would be inserted in a list sorted by compareVirtualHosts. */
function findSorted(list: readonly VirtualHost[], vhost: VirtualHost): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareVirtualHosts(list[mid], vhost) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function hasTls(ingress: Ingress): boolean {
  const tls = ingress.spec?.tls;
  return Array.isArray(tls) && tls.length > 0;
}

/**
 * Steps 3 and 5 for the Ingresses given oldest first: the virtual hosts (unsorted, in order of
 * first appearance), the upstream targets in the order they are used, and the diagnostics. With
 * `only`, just those hosts (their Ingresses are found in `ingresses`).
 */
function buildHosts(
  ingresses: readonly IngressRoutes[],
  tlsHosts: TlsHosts,
  only: ReadonlySet<string> | null,
  interned: Map<string, VirtualHost>,
): { readonly virtualHosts: VirtualHost[]; readonly used: UpstreamTarget[]; readonly diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const report = (diagnostic: Diagnostic): void => {
    diagnostics.push(diagnostic);
  };
  // 3. Virtual hosts, their routes and default backends. Candidates arrive oldest Ingress first,
  //    then in rule/path order, so the first candidate for a host+match+matchPath wins.
  const hosts = new Map<string, HostBuilder>();
  for (const ingress of ingresses) {
    for (const { host, kind } of ingress.hosts) {
      if (only !== null && !only.has(host)) continue;
      let builder = hosts.get(host);
      if (builder === undefined) hosts.set(host, (builder = { host, kind, routes: [], byMatch: null, defaultBackend: null }));
      if (ingress.defaultBackend === null) continue;
      if (builder.defaultBackend === null) {
        builder.defaultBackend = { backend: ingress.defaultBackend, from: ingress.source };
      } else if (!isSameBackend(builder.defaultBackend.backend.ref, ingress.defaultBackend.ref)) {
        report({
          severity: 'warning',
          object: ingress.source,
          reason: 'DefaultBackendConflict',
          message: `spec.defaultBackend is not used for host "${host}": the older Ingress "${refName(builder.defaultBackend.from)}" sets the default backend there`,
        });
      }
    }
    for (const candidate of ingress.routes) {
      const builder = hosts.get(candidate.route.host);
      if (builder === undefined) continue; // a host outside `only`
      const winner = claimMatch(builder, candidate);
      if (winner === undefined) continue;
      const { route } = candidate;
      report({
        severity: 'warning',
        object: route.source,
        reason: 'RouteConflict',
        message:
          `${route.name} (host "${route.host}", ${route.pathType} "${route.path}") is ignored: ` +
          `${winner.route.name} (${winner.route.pathType} "${winner.route.path}") matches the same requests and wins (${whyFirst(winner, candidate)})`,
      });
    }
  }

  // 5. The virtual hosts' routes (ssl-redirect applied), sorted, and the upstream targets they use.
  const used: UpstreamTarget[] = [];
  const virtualHosts: VirtualHost[] = [];
  for (const builder of hosts.values()) {
    const routes: Route[] = [];
    if (builder.routes.some((candidate) => candidate.regex)) {
      // A regex host (ingress-nginx's use-regex / rewrite-target rule): every path is a pattern.
      const regex = regexHostRoutes(builder.host, builder.routes, report);
      for (const candidate of regex.kept) if (candidate.target !== null) used.push(candidate.target);
      for (const { route, candidate } of regex.routes) routes.push(withSslRedirect(route, candidate.sslRedirect, tlsHosts));
    } else {
      for (const candidate of builder.routes) {
        routes.push(withSslRedirect(candidate.route, candidate.sslRedirect, tlsHosts));
        if (candidate.target !== null) used.push(candidate.target);
      }
      routes.sort(compareRoutes);
    }
    const defaultTarget = builder.defaultBackend?.backend.target ?? null;
    if (defaultTarget !== null) used.push(defaultTarget);
    virtualHosts.push(internVirtualHost(builder.host, builder.kind, routes, builder.defaultBackend?.backend.ref ?? null, interned));
  }
  return { virtualHosts, used, diagnostics };
}

/** Hosts with more routes than this index them by match + matchPath; fewer are scanned. */
const SCAN_LIMIT = 8;

/**
 * The route already holding the candidate's match + matchPath on its host (the candidate loses),
 * or undefined: then the candidate is added as the winner. Avoids a Map and a key string per host
 * and route for the common case of hosts with a few routes.
 */
function claimMatch(builder: HostBuilder, candidate: CandidateRoute): CandidateRoute | undefined {
  const { match, matchPath } = candidate.route;
  let winner: CandidateRoute | undefined;
  if (builder.byMatch !== null) {
    winner = builder.byMatch.get(`${match} ${matchPath}`);
  } else {
    for (const r of builder.routes) {
      if (r.route.matchPath === matchPath && r.route.match === match) {
        winner = r;
        break;
      }
    }
  }
  if (winner !== undefined) return winner;
  builder.routes.push(candidate);
  if (builder.byMatch !== null) {
    builder.byMatch.set(`${match} ${matchPath}`, candidate);
  } else if (builder.routes.length > SCAN_LIMIT) {
    builder.byMatch = new Map(builder.routes.map((r) => [`${r.route.match} ${r.route.matchPath}`, r]));
  }
  return undefined;
}

/**
 * The virtual hosts of the previous translate, by host. A virtual host built again from the very
 * same Route objects and default backend is returned as that same object (structural sharing for
 * compile's reuse and the controller's change check; the value is equal either way, so translate
 * stays pure). Replaced by every translate: it holds at most one output's virtual hosts.
 */
let lastVirtualHosts: ReadonlyMap<string, VirtualHost> = new Map();

function internVirtualHost(
  host: string,
  kind: HostKind,
  routes: readonly Route[],
  defaultBackend: BackendRef | null,
  interned: Map<string, VirtualHost>,
): VirtualHost {
  const last = lastVirtualHosts.get(host);
  const vhost =
    last !== undefined && last.kind === kind && last.defaultBackend === defaultBackend && sameElements(last.routes, routes)
      ? last
      : { host, kind, routes, defaultBackend };
  interned.set(host, vhost);
  return vhost;
}

/**
 * translateIngressRules behind a safety net: the readers guard every field they use, but a
 * malformed object from the file source (nothing validated it against the API schema) must
 * cost only itself, never the whole table. A throw skips that Ingress with MalformedIngress.
 */
function readIngress(ingress: Ingress, index: ServiceIndex, report: (diagnostic: Diagnostic) => void): IngressRoutes | null {
  try {
    return translateIngressRules(ingress, index, report);
  } catch (err) {
    report({
      severity: 'error',
      object: ingressRef(ingress),
      reason: 'MalformedIngress',
      message: `the Ingress could not be read (${err instanceof Error ? err.message : String(err)}); it is skipped`,
    });
    return null;
  }
}

function selectGlobalDefault(
  ingresses: readonly IngressRoutes[],
  options: TranslateOptions,
  index: ServiceIndex,
  report: (diagnostic: Diagnostic) => void,
): ResolvedBackend | null {
  let winner: IngressRoutes | null = null;
  for (const ingress of ingresses) {
    if (ingress.defaultBackend === null) continue;
    if (winner === null) {
      winner = ingress;
    } else if (ingress.hosts.length === 0 && !isSameBackend(winner.defaultBackend!.ref, ingress.defaultBackend.ref)) {
      // Only an Ingress without rules loses its defaultBackend entirely here; one with rules still
      // serves it on its own hosts (and step 3 reports the hosts where an older Ingress wins).
      report({
        severity: 'warning',
        object: ingress.source,
        reason: 'DefaultBackendConflict',
        message: `spec.defaultBackend is not used: the older Ingress "${refName(winner.source)}" sets the controller-wide default backend`,
      });
    }
  }
  if (winner !== null) return winner.defaultBackend;
  const service = options.defaultBackendService;
  if (service === null || service === undefined) return null;
  const resolved = resolveServiceBackend(service.namespace, service.name, service.port, index);
  if (resolved.problem !== null) {
    report({
      severity: resolved.problem.severity,
      object: { kind: 'Service', namespace: service.namespace, name: service.name },
      reason: resolved.problem.reason,
      message: `--default-backend-service: ${resolved.problem.message}`,
    });
  }
  return { ref: resolved.ref, target: resolved.target };
}

/** Hosts listed in spec.tls of the main owned Ingresses (ssl-redirect applies to them). */
function collectTlsHosts(ingresses: readonly Ingress[]): TlsHosts {
  const tlsHosts = new TlsHosts();
  for (const ingress of ingresses) {
    const tls = ingress.spec?.tls;
    if (!Array.isArray(tls)) continue;
    for (const entry of tls) {
      if (entry === null || typeof entry !== 'object' || !Array.isArray(entry.hosts)) continue;
      for (const host of entry.hosts) if (typeof host === 'string' && host !== '') tlsHosts.add(host);
    }
  }
  return tlsHosts;
}

function isSameBackend(a: BackendRef, b: BackendRef): boolean {
  if (a.upstream !== null || b.upstream !== null) return a.upstream === b.upstream;
  if (a.service === null || b.service === null) return a.service === b.service;
  return a.service.namespace === b.service.namespace && a.service.name === b.service.name && a.service.port === b.service.port;
}

/** Why `winner` beat `loser` for the same host + match + matchPath (they are in that order). */
function whyFirst(winner: CandidateRoute, loser: CandidateRoute): string {
  if (winner.route.source.namespace === loser.route.source.namespace && winner.route.source.name === loser.route.source.name) {
    return 'it comes first in the same Ingress';
  }
  if (winner.age.createdAt !== loser.age.createdAt) return 'its Ingress is older';
  return 'its Ingress has the same creationTimestamp and sorts first by namespace/name';
}

function refName(ref: ObjectRef): string {
  return `${ref.namespace}/${ref.name}`;
}

function sortUnique(diagnostics: Diagnostic[]): Diagnostic[] {
  diagnostics.sort(compareDiagnostics);
  return diagnostics.filter((d, i) => i === 0 || compareDiagnostics(d, diagnostics[i - 1]) !== 0);
}
