// load-balance / upstream-hash-by / affinity annotations of one Ingress -> RouteBalance (see the
// model). Pure. Read for main Ingresses (rules.ts) and for canary Ingresses, which keep their own
// (canary.ts), as ingress-nginx does.
import type { Diagnostic } from '../model/diagnostic.ts';
import type { ObjectRef } from '../model/kube.ts';
import type { CookieAffinity, RouteBalance } from '../model/route-config.ts';
import {
  AFFINITY,
  AFFINITY_CANARY_BEHAVIOR,
  BALANCE_ANNOTATIONS,
  LOAD_BALANCE,
  SESSION_COOKIE_MAX_AGE,
  SESSION_COOKIE_NAME,
  SESSION_COOKIE_PATH,
  UPSTREAM_HASH_BY,
} from './annotations/annotation-table.ts';
import { hasAnnotation, readAnnotation, type Annotations } from './annotations/read-annotation.ts';

/** The Ingress's balancing choice, or undefined when it sets none of these annotations. */
export function readBalanceSettings(annotations: Annotations, object: ObjectRef, diagnostics: Diagnostic[]): RouteBalance | undefined {
  if (annotations === undefined || !BALANCE_ANNOTATIONS.some((spec) => hasAnnotation(annotations, spec.key))) return undefined;
  const policy = readAnnotation(LOAD_BALANCE, annotations, object, diagnostics);
  const hashBy = readAnnotation(UPSTREAM_HASH_BY, annotations, object, diagnostics);
  const affinityKind = readAnnotation(AFFINITY, annotations, object, diagnostics);
  let affinity: CookieAffinity | undefined;
  if (affinityKind === 'cookie') {
    affinity = {
      cookieName: readAnnotation(SESSION_COOKIE_NAME, annotations, object, diagnostics),
      maxAgeSeconds: readAnnotation(SESSION_COOKIE_MAX_AGE, annotations, object, diagnostics),
      path: readAnnotation(SESSION_COOKIE_PATH, annotations, object, diagnostics),
      canaryBehavior: readAnnotation(AFFINITY_CANARY_BEHAVIOR, annotations, object, diagnostics),
    };
  } else {
    // Cookie settings without affinity: cookie do nothing; say so (they are easy to mistype).
    for (const spec of [SESSION_COOKIE_NAME, SESSION_COOKIE_MAX_AGE, SESSION_COOKIE_PATH, AFFINITY_CANARY_BEHAVIOR]) {
      if (hasAnnotation(annotations, spec.key)) {
        diagnostics.push({ severity: 'warning', object, reason: 'AffinityNotEnabled', message: `annotation ${spec.key} has no effect without affinity: cookie` });
      }
    }
  }
  return {
    policy,
    ...(hashBy !== null ? { hashBy } : {}),
    ...(affinity !== undefined ? { affinity } : {}),
  };
}
