// Reads one annotation from an object's annotations through the table: prefix precedence, parsing,
// diagnostics for invalid values. Pure.

import type { Diagnostic } from '../../model/diagnostic.ts';
import type { ObjectRef } from '../../model/kube.ts';
import { ANNOTATION_PREFIXES, type AnnotationSpec } from './annotation-table.ts';

export type Annotations = Readonly<Record<string, string>> | undefined;

export interface FoundAnnotation {
  /** The full key the value was read from ("switchyard.dev/canary-weight"). */
  readonly key: string;
  readonly value: string;
}

/**
 * The raw value of `key` (without prefix), or undefined when set under neither prefix.
 * `switchyard.dev/` wins over `nginx.ingress.kubernetes.io/` when both are set.
 */
export function findAnnotation(annotations: Annotations, key: string): FoundAnnotation | undefined {
  if (annotations === undefined) return undefined;
  for (const prefix of ANNOTATION_PREFIXES) {
    const full = prefix + key;
    const value = annotations[full];
    if (typeof value === 'string') return { key: full, value };
  }
  return undefined;
}

/** True when `key` is set under any accepted prefix. */
export function hasAnnotation(annotations: Annotations, key: string): boolean {
  return findAnnotation(annotations, key) !== undefined;
}

/**
 * The parsed value of `spec` on an object, or its default when unset or invalid. Problems are
 * pushed to `diagnostics` (errors are data): InvalidAnnotation (error) for a value the parser
 * rejects, AnnotationPrefixConflict (warning) when both prefixes carry different values.
 */
export function readAnnotation<T>(
  spec: AnnotationSpec<T>,
  annotations: Annotations,
  object: ObjectRef,
  diagnostics: Diagnostic[],
): T {
  const found = findAnnotation(annotations, spec.key);
  if (found === undefined) return spec.default;
  reportPrefixConflict(spec.key, annotations, found, object, diagnostics);
  const outcome = spec.parse(found.value);
  if (outcome.ok) return outcome.value;
  diagnostics.push({
    severity: 'error',
    object,
    reason: 'InvalidAnnotation',
    message: `annotation ${found.key}: ${outcome.error}; ${spec.onInvalid}`,
  });
  return spec.default;
}

function reportPrefixConflict(
  key: string,
  annotations: Annotations,
  found: FoundAnnotation,
  object: ObjectRef,
  diagnostics: Diagnostic[],
): void {
  if (annotations === undefined) return;
  for (const prefix of ANNOTATION_PREFIXES) {
    const other = prefix + key;
    if (other === found.key) continue;
    const value = annotations[other];
    if (typeof value === 'string' && value !== found.value) {
      diagnostics.push({
        severity: 'warning',
        object,
        reason: 'AnnotationPrefixConflict',
        message: `annotations ${found.key} ("${found.value}") and ${other} ("${value}") differ; ${found.key} wins`,
      });
    }
  }
}
