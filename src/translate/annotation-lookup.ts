// Reading the few annotations the route model itself needs (use-regex, canary). Every annotation is
// accepted under both prefixes; when both are set, the switchyard.dev/ one wins.
import type { ObjectMeta } from '../model/kube.ts';

export const SWITCHYARD_PREFIX = 'switchyard.dev/';
export const NGINX_PREFIX = 'nginx.ingress.kubernetes.io/';

/** The value of `switchyard.dev/<name>`, else `nginx.ingress.kubernetes.io/<name>`, else undefined. */
export function findAnnotation(meta: ObjectMeta, name: string): string | undefined {
  const annotations = meta.annotations;
  if (annotations === undefined || annotations === null) return undefined;
  const own = annotations[SWITCHYARD_PREFIX + name];
  if (typeof own === 'string') return own;
  const nginx = annotations[NGINX_PREFIX + name];
  return typeof nginx === 'string' ? nginx : undefined;
}

// Go's strconv.ParseBool true values, which ingress-nginx uses for boolean annotations.
const TRUE_VALUES = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);

/** True when the annotation is set to a true value ("true", also 1/t/T/TRUE/True like Go's ParseBool). */
export function isAnnotationTrue(meta: ObjectMeta, name: string): boolean {
  const value = findAnnotation(meta, name);
  return value !== undefined && TRUE_VALUES.has(value.trim());
}
