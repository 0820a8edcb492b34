// API objects -> the plain JSON shapes of src/model/kube.ts. Two inputs reach us: list items, which
// @kubernetes/client-node deserialized into model classes (Dates, `undefined` fields), and watch
// events, which are raw JSON. Both leave here as plain objects with RFC 3339 strings, no
// managedFields, and kind/apiVersion set (a real API server omits them on list items).
import type { KubeKind, KubeObject } from '../../model/kube.ts';

/** Normalize one API object of `kind`. Returns undefined for something that is not an object with a
 *  metadata.name (the caller logs and skips it; one bad object never costs the others). */
export function normalizeKubeObject(kind: KubeKind, apiVersion: string, input: unknown): KubeObject | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const source = input as Record<string, unknown>;
  const meta = source.metadata as Record<string, unknown> | undefined;
  if (typeof meta !== 'object' || meta === null || typeof meta.name !== 'string' || meta.name === '') return undefined;
  const out: Record<string, unknown> = { apiVersion, kind };
  for (const key of Object.keys(source)) {
    if (key === 'kind' || key === 'apiVersion') continue;
    const value = key === 'metadata' ? normalizeMetadata(meta) : toPlain(source[key]);
    if (value !== undefined) out[key] = value;
  }
  return out as unknown as KubeObject;
}

function normalizeMetadata(meta: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(meta)) {
    if (key === 'managedFields') continue;
    const value = toPlain(meta[key]);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** Dates -> RFC 3339 (second precision like the API server's own JSON), drop undefined; everything
 *  else is copied as plain arrays/objects so no model class instance leaks into the store. */
function toPlain(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return formatTime(value);
  if (Array.isArray(value)) return value.map(toPlain);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const v = toPlain((value as Record<string, unknown>)[key]);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

export function formatTime(date: Date): string {
  if (Number.isNaN(date.getTime())) return '';
  const iso = date.toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}
