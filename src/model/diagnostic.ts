import type { ObjectRef } from './kube.ts';

/**
 * A problem found while translating, tied to the object that caused it. Errors are data: the
 * offending rule/path/object is skipped (or served degraded, as `reason` says) and the rest is served.
 */
export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  readonly object: ObjectRef;
  /** Stable PascalCase code, usable as a metric label: ServiceNotFound, RouteConflict, InvalidPath, ... */
  readonly reason: string;
  /** One plain sentence for logs and status. */
  readonly message: string;
}
