// Canary Ingresses (nginx.ingress.kubernetes.io/canary: "true", or switchyard.dev/canary) never
// create routes, virtual hosts or default backends of their own and never win conflicts: each of
// their paths attaches to the main route with the same host, the same path string and the same
// pathType, adding a header/cookie/weight split to it. This file parses their annotations and
// attaches them. PURE: the result is a function of the Ingresses and routes passed in, whatever
// order they come in.

import type { Diagnostic } from '../model/diagnostic.ts';
import type { Ingress, ObjectRef } from '../model/kube.ts';
import type { CanaryBackend, CanaryHeaderRule, Route, VirtualHost } from '../model/route-config.ts';
import {
  ANNOTATIONS,
  CANARY,
  CANARY_BY_COOKIE,
  CANARY_BY_HEADER,
  CANARY_BY_HEADER_PATTERN,
  CANARY_BY_HEADER_VALUE,
  CANARY_RULE_ANNOTATIONS,
  CANARY_WEIGHT,
  CANARY_WEIGHT_TOTAL,
} from './annotations/annotation-table.ts';
import { findAnnotation, hasAnnotation, readAnnotation } from './annotations/read-annotation.ts';
import { memoizeByObject } from './memo.ts';

/** The parsed canary annotations of one canary Ingress. */
export interface CanarySettings {
  readonly header: CanaryHeaderRule | null;
  readonly cookie: string | null;
  /** Configured weight, already capped to weightTotal. */
  readonly weight: number;
  readonly weightTotal: number;
}

/**
 * A path of a canary Ingress, built by translate exactly like a main route (same host/path
 * validation, same backend resolution), then handed here instead of to the virtual hosts.
 */
export interface CanaryCandidate {
  readonly ingress: Ingress;
  readonly route: Route;
}

function refOf(ingress: Ingress): ObjectRef {
  return { kind: 'Ingress', namespace: ingress.metadata.namespace ?? '', name: ingress.metadata.name };
}

/**
 * True when the Ingress is a canary: the `canary` annotation parses as true (Go ParseBool values,
 * as ingress-nginx: "true", also 1/t/T/TRUE/True). No diagnostics here: parseCanarySettings and
 * reportCanaryAnnotationsWithoutCanary report problems.
 */
export function isCanaryIngress(ingress: Ingress): boolean {
  const found = findAnnotation(ingress.metadata.annotations, CANARY.key);
  if (found === undefined) return false;
  const outcome = CANARY.parse(found.value);
  return outcome.ok && outcome.value;
}

/** isCanaryIngress, memoized per frozen Ingress (memo.ts). */
const isCanaryIngressMemoized = memoizeByObject(isCanaryIngress);

/** reportCanaryAnnotationsWithoutCanary's diagnostics, memoized per frozen Ingress (memo.ts). */
export const canaryAnnotationDiagnostics = memoizeByObject((ingress: Ingress): readonly Diagnostic[] => {
  const diagnostics: Diagnostic[] = [];
  reportCanaryAnnotationsWithoutCanary(ingress, diagnostics);
  return diagnostics;
});

/** Splits owned Ingresses into main Ingresses (which build routes) and canary Ingresses. */
export function partitionCanaryIngresses(ingresses: readonly Ingress[]): {
  readonly main: readonly Ingress[];
  readonly canary: readonly Ingress[];
} {
  const main: Ingress[] = [];
  const canary: Ingress[] = [];
  for (const ingress of ingresses) (isCanaryIngressMemoized(ingress) ? canary : main).push(ingress);
  return { main, canary };
}

/**
 * For an Ingress that is NOT a canary: canary-* annotations (other than `canary`) are an error,
 * reported as CanaryAnnotationWithoutCanary; the Ingress is served as a normal Ingress and those
 * annotations have no effect. An invalid `canary` value is reported as InvalidAnnotation.
 */
export function reportCanaryAnnotationsWithoutCanary(ingress: Ingress, diagnostics: Diagnostic[]): void {
  const annotations = ingress.metadata.annotations;
  if (annotations === undefined) return;
  const object = refOf(ingress);
  readAnnotation(CANARY, annotations, object, diagnostics); // reports an invalid value
  const set = CANARY_RULE_ANNOTATIONS.filter((spec) => hasAnnotation(annotations, spec.key)).map((spec) => spec.key);
  if (set.length === 0) return;
  const canary = findAnnotation(annotations, CANARY.key);
  diagnostics.push({
    severity: 'error',
    object,
    reason: 'CanaryAnnotationWithoutCanary',
    message:
      `canary annotations ${set.join(', ')} are set but ` +
      (canary === undefined ? 'canary is not' : `canary is "${canary.value}", not "true"`) +
      '; the Ingress is served as a normal Ingress and they have no effect',
  });
}

/**
 * Reads the canary annotations of a canary Ingress. Every problem becomes a diagnostic and the
 * documented fallback applies (the annotation table's "If invalid"); it never throws.
 */
export function parseCanarySettings(ingress: Ingress, diagnostics: Diagnostic[]): CanarySettings {
  const annotations = ingress.metadata.annotations;
  const object = refOf(ingress);
  readAnnotation(CANARY, annotations, object, diagnostics); // reports a prefix conflict on `canary` itself

  // 1. Header rule: by-header; then -value (wins over -pattern), else -pattern, else always/never.
  const headerName = readAnnotation(CANARY_BY_HEADER, annotations, object, diagnostics);
  const headerValue = readAnnotation(CANARY_BY_HEADER_VALUE, annotations, object, diagnostics);
  const rawPattern = findAnnotation(annotations, CANARY_BY_HEADER_PATTERN.key)?.value ?? '';
  const pattern = readAnnotation(CANARY_BY_HEADER_PATTERN, annotations, object, diagnostics);
  const patternValid = rawPattern === '' || pattern !== ''; // the parser returns '' (default) when invalid
  let header: CanaryHeaderRule | null = null;
  if (headerName === null) {
    // An invalid canary-by-header was reported already; an absent one makes -value/-pattern useless.
    if (!hasAnnotation(annotations, CANARY_BY_HEADER.key) && (headerValue !== '' || rawPattern !== '')) {
      diagnostics.push({
        severity: 'warning',
        object,
        reason: 'CanaryHeaderRuleIncomplete',
        message: `${headerValue !== '' ? CANARY_BY_HEADER_VALUE.key : CANARY_BY_HEADER_PATTERN.key} has no effect without ${CANARY_BY_HEADER.key}`,
      });
    }
  } else if (headerValue !== '') {
    header = { name: headerName, match: 'value', value: headerValue };
    if (rawPattern !== '') {
      diagnostics.push({
        severity: 'warning',
        object,
        reason: 'CanaryHeaderPatternIgnored',
        message: `${CANARY_BY_HEADER_PATTERN.key} is ignored because ${CANARY_BY_HEADER_VALUE.key} is set`,
      });
    }
  } else if (rawPattern !== '') {
    header = { name: headerName, match: 'pattern', pattern: rawPattern, valid: patternValid };
  } else {
    header = { name: headerName, match: 'always-never' };
  }

  // 2. Cookie rule.
  const cookie = readAnnotation(CANARY_BY_COOKIE, annotations, object, diagnostics);

  // 3. Weight, capped to the total (W >= T means every request that reaches the draw).
  const weightTotal = readAnnotation(CANARY_WEIGHT_TOTAL, annotations, object, diagnostics);
  let weight = readAnnotation(CANARY_WEIGHT, annotations, object, diagnostics);
  if (weight > weightTotal) {
    diagnostics.push({
      severity: 'warning',
      object,
      reason: 'CanaryWeightAboveTotal',
      message: `canary-weight ${weight} is above canary-weight-total ${weightTotal}; capped to ${weightTotal} (all weighted traffic)`,
    });
    weight = weightTotal;
  }

  // 4. Other annotations of the table are inherited from the main route, so ignored here.
  const ignored: string[] = [];
  for (const spec of ANNOTATIONS) {
    if (spec.onCanary !== 'ignored') continue;
    const found = findAnnotation(annotations, spec.key);
    if (found !== undefined) ignored.push(found.key);
  }
  if (ignored.length > 0) {
    diagnostics.push({
      severity: 'warning',
      object,
      reason: 'CanaryAnnotationIgnored',
      message: `annotations ${ignored.join(', ')} are ignored on a canary Ingress (it inherits the main route's behaviour)`,
    });
  }

  return { header, cookie, weight, weightTotal };
}

/** Oldest first: creationTimestamp (missing or unparsable last), then namespace, then name. */
export function compareCanaryAge(a: Ingress, b: Ingress): number {
  const ta = timestampOf(a);
  const tb = timestampOf(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  const na = a.metadata.namespace ?? '';
  const nb = b.metadata.namespace ?? '';
  if (na !== nb) return na < nb ? -1 : 1;
  return compareStrings(a.metadata.name, b.metadata.name);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function timestampOf(ingress: Ingress): number {
  const raw = ingress.metadata.creationTimestamp;
  const t = raw === undefined ? Number.NaN : Date.parse(raw);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

function routeKey(host: string, path: string, pathType: string): string {
  return `${host}\u0000${path}\u0000${pathType}`;
}

interface Attached {
  readonly ingress: Ingress;
  canary: CanaryBackend;
}

/**
 * Attaches canary candidates to the main routes of `virtualHosts` and returns new virtual hosts
 * (the input is not modified). Candidates are taken oldest canary Ingress first (then route name),
 * whatever order the inputs come in; for each:
 * 1. no main route with the same host, path string and pathType -> CanaryWithoutMainRoute (warning);
 *    the candidate serves nothing;
 * 2. its backend did not resolve (translate reported why) -> CanaryBackendUnresolved, not attached;
 * 3. the same canary Ingress already attached to that route (duplicate path) -> CanaryDuplicatePath;
 * 4. otherwise attached. Weights are then capped per route so the shares add up to at most 1: the
 *    oldest canaries keep their share, later ones get what is left (CanaryWeightOverflow).
 * Settings are parsed once per canary Ingress (its diagnostics once, even with several paths).
 */
export function attachCanaries(
  virtualHosts: readonly VirtualHost[],
  candidates: readonly CanaryCandidate[],
  diagnostics: Diagnostic[],
): VirtualHost[] {
  if (candidates.length === 0) return virtualHosts.slice();

  const mainRoutes = new Map<string, Route>();
  for (const vh of virtualHosts) {
    for (const route of vh.routes) mainRoutes.set(routeKey(vh.host, route.path, route.pathType), route);
  }

  const ordered = candidates
    .slice()
    .sort((a, b) => compareCanaryAge(a.ingress, b.ingress) || compareStrings(a.route.name, b.route.name));
  const settingsByIngress = new Map<Ingress, CanarySettings>();
  const attached = new Map<Route, Attached[]>();

  for (const { ingress, route } of ordered) {
    let settings = settingsByIngress.get(ingress);
    if (settings === undefined) {
      settings = parseCanarySettings(ingress, diagnostics);
      settingsByIngress.set(ingress, settings);
    }
    const object = refOf(ingress);
    const main = mainRoutes.get(routeKey(route.host, route.path, route.pathType));
    if (main === undefined) {
      diagnostics.push({
        severity: 'warning',
        object,
        reason: 'CanaryWithoutMainRoute',
        message: `canary path ${route.host}${route.path} (${route.pathType}) has no main Ingress route with the same host, path and pathType; it serves nothing`,
      });
      continue;
    }
    if (route.backend.upstream === null) {
      diagnostics.push({
        severity: 'warning',
        object,
        reason: 'CanaryBackendUnresolved',
        message: `canary path ${route.host}${route.path} has no usable backend; its requests stay on the main route ${main.name}`,
      });
      continue;
    }
    let list = attached.get(main);
    if (list === undefined) {
      list = [];
      attached.set(main, list);
    }
    if (list.some((entry) => entry.ingress === ingress)) {
      diagnostics.push({
        severity: 'warning',
        object,
        reason: 'CanaryDuplicatePath',
        message: `canary path ${route.name} targets main route ${main.name} a second time; only the first is used`,
      });
      continue;
    }
    list.push({
      ingress,
      canary: {
        source: object,
        name: route.name,
        backend: route.backend,
        header: settings.header,
        cookie: settings.cookie,
        weight: settings.weight,
        weightTotal: settings.weightTotal,
        // The canary's own load-balance / affinity annotations (kept, as ingress-nginx does).
        ...(route.balance !== undefined ? { balance: route.balance } : {}),
      },
    });
  }

  for (const [main, list] of attached) capWeights(main, list, diagnostics);

  return virtualHosts.map((vh) => {
    if (!vh.routes.some((route) => attached.has(route))) return vh;
    return {
      ...vh,
      routes: vh.routes.map((route) => {
        const list = attached.get(route);
        return list === undefined ? route : { ...route, canaries: [...route.canaries, ...list.map((entry) => entry.canary)] };
      }),
    };
  });
}

/** Caps weights (replacing entries' canary objects) so the route's shares sum to at most 1. */
function capWeights(main: Route, list: Attached[], diagnostics: Diagnostic[]): void {
  const scale = canaryWeightScale(list.map((entry) => entry.canary));
  let remaining = scale.total;
  for (let i = 0; i < list.length; i++) {
    const entry = list[i];
    const units = scale.units[i];
    if (units <= remaining) {
      remaining -= units;
      continue;
    }
    const per = scale.total / entry.canary.weightTotal; // units per weight point (an integer when exact)
    const capped = Math.floor(remaining / per);
    diagnostics.push({
      severity: 'warning',
      object: entry.canary.source,
      reason: 'CanaryWeightOverflow',
      message:
        `canary weights on route ${main.name} add up to more than the whole; canary-weight ` +
        `${entry.canary.weight}/${entry.canary.weightTotal} capped to ${capped}/${entry.canary.weightTotal} (older canaries keep their share)`,
    });
    entry.canary = { ...entry.canary, weight: capped };
    remaining = Math.max(0, remaining - Math.floor(capped * per));
  }
}

/** Largest common weight total for exact integer draws (Math.random gives 52 random bits). */
const MAX_EXACT_TOTAL = 2 ** 31;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * The common scale of a route's canary weights: `total` and each canary's share in units of it
 * (`units[i] / total == weight_i / weightTotal_i`). `total` is the least common multiple of the
 * weight totals of canaries with a weight (100 when all use the default); if that would exceed
 * 2^31, the largest total is used and shares are rounded down (`exact: false`). Shared by translate
 * (capping) and compile (thresholds of the per-request draw).
 */
export function canaryWeightScale(canaries: readonly Pick<CanaryBackend, 'weight' | 'weightTotal'>[]): {
  readonly total: number;
  readonly units: readonly number[];
  readonly exact: boolean;
} {
  let total = 1;
  let exact = true;
  for (const c of canaries) {
    if (c.weight <= 0) continue;
    const next = (total / gcd(total, c.weightTotal)) * c.weightTotal;
    if (next > MAX_EXACT_TOTAL) {
      exact = false;
      break;
    }
    total = next;
  }
  if (!exact) total = Math.max(...canaries.map((c) => c.weightTotal));
  const units = canaries.map((c) => {
    if (c.weight <= 0) return 0;
    // exact: total is a multiple of weightTotal, so this is an integer <= total (no overflow).
    return exact ? c.weight * (total / c.weightTotal) : Math.floor((c.weight / c.weightTotal) * total);
  });
  return { total, units, exact };
}

/** What translate reads from one Ingress (structurally its IngressRoutes), as far as canaries need. */
export interface CanaryIngressRoutes<T> {
  readonly routes: readonly { readonly route: Route; readonly target: T | null }[];
  readonly defaultBackend: unknown;
}

/**
 * translate's canary step: reads each canary Ingress with translate's own reader (same host, path
 * and backend validation as a main Ingress), attaches its paths to `virtualHosts` (see
 * attachCanaries), calls `use` with the upstream target of every attached canary (so the upstream
 * appears in RouteConfig.upstreams only when something routes to it) and returns the new virtual
 * hosts. Also reports, on every main Ingress, canary annotations without `canary: "true"`.
 * A canary's spec.defaultBackend is ignored (CanaryDefaultBackendIgnored): canaries split route
 * traffic only.
 */
export function attachCanaryIngresses<T>(
  mainIngresses: readonly Ingress[],
  canaryIngresses: readonly Ingress[],
  virtualHosts: readonly VirtualHost[],
  readRoutes: (ingress: Ingress) => CanaryIngressRoutes<T>,
  diagnostics: Diagnostic[],
  use: (target: T | null) => void,
): VirtualHost[] {
  for (const ingress of mainIngresses) for (const d of canaryAnnotationDiagnostics(ingress)) diagnostics.push(d);
  const candidates: CanaryCandidate[] = [];
  const targets = new Map<string, T | null>();
  for (const ingress of canaryIngresses) {
    const read = readRoutes(ingress);
    if (read.defaultBackend !== null && read.defaultBackend !== undefined) {
      diagnostics.push({
        severity: 'warning',
        object: refOf(ingress),
        reason: 'CanaryDefaultBackendIgnored',
        message: 'spec.defaultBackend of a canary Ingress is ignored: canaries only split the traffic of main routes with the same host and path',
      });
    }
    for (const { route, target } of read.routes) {
      candidates.push({ ingress, route });
      targets.set(route.name, target);
    }
  }
  const result = attachCanaries(virtualHosts, candidates, diagnostics);
  for (const vh of result) {
    for (const route of vh.routes) {
      for (const canary of route.canaries) use(targets.get(canary.name) ?? null);
    }
  }
  return result;
}
