// Raw object (parsed YAML/JSON, or an API object) -> the plain, frozen JSON shape of
// src/model/kube.ts: no Dates (RFC 3339 strings), no managedFields, no undefined properties,
// a namespace on every namespaced object ("default" when omitted) and "" on cluster-scoped ones.
import type { KubeKind, KubeObject } from '../model/kube.ts';

/** Cluster-scoped kinds among the ones we read. */
const CLUSTER_SCOPED: ReadonlySet<string> = new Set<KubeKind>(['IngressClass']);

export const DEFAULT_NAMESPACE = 'default';

export type NormalizeResult = { readonly ok: true; readonly object: KubeObject } | { readonly ok: false; readonly reason: string };

/**
 * Never throws. `kind` overrides/sets the kind (API list items omit it). The result is deeply
 * frozen: the store and every snapshot share it, nobody may change it.
 */
export function normalizeObject(raw: unknown, kind?: KubeKind): NormalizeResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'not an object' };
  const source = raw as Record<string, unknown>;
  const k = kind ?? source.kind;
  if (typeof k !== 'string' || k === '') return { ok: false, reason: 'missing kind' };
  const meta = source.metadata;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return { ok: false, reason: 'missing metadata' };
  const m = meta as Record<string, unknown>;
  if (typeof m.name !== 'string' || m.name === '') return { ok: false, reason: 'missing metadata.name' };
  if (m.namespace !== undefined && m.namespace !== null && typeof m.namespace !== 'string') {
    return { ok: false, reason: 'metadata.namespace is not a string' };
  }
  for (const field of ['labels', 'annotations'] as const) {
    const v = m[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'object' || Array.isArray(v)) return { ok: false, reason: `metadata.${field} is not a map` };
    for (const [key, value] of Object.entries(v)) {
      if (value !== null && typeof value === 'object' && !(value instanceof Date)) return { ok: false, reason: `metadata.${field}["${key}"] is not a string` };
    }
  }

  const out: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    if (key === 'metadata') continue;
    const v = toPlain(source[key]);
    if (v !== undefined) out[key] = v;
  }
  out.kind = k;
  const metadata: Record<string, unknown> = {};
  for (const key of Object.keys(m)) {
    if (key === 'managedFields') continue;
    let v: unknown;
    if (key === 'labels' || key === 'annotations') v = stringMap(m[key]);
    else v = toPlain(m[key]);
    if (v !== undefined) metadata[key] = v;
  }
  if (CLUSTER_SCOPED.has(k)) metadata.namespace = '';
  else if (typeof metadata.namespace !== 'string' || metadata.namespace === '') metadata.namespace = DEFAULT_NAMESPACE;
  out.metadata = Object.freeze(metadata);
  return { ok: true, object: Object.freeze(out) as unknown as KubeObject };
}

/** Label/annotation values: YAML turns `true`/`10` into non-strings; Kubernetes only has strings. */
function stringMap(value: unknown): Record<string, string> | undefined {
  if (value === null || value === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined) continue;
    out[k] = v === null ? '' : v instanceof Date ? formatTime(v) : String(v);
  }
  return Object.freeze(out);
}

/** Plain frozen copy: Dates -> strings, undefined dropped. */
function toPlain(value: unknown): unknown {
  if (value === null || typeof value !== 'object') {
    return typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint' ? undefined : value;
  }
  if (value instanceof Date) return formatTime(value);
  if (Array.isArray(value)) return Object.freeze(value.map((v) => toPlain(v) ?? null));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const v = toPlain((value as Record<string, unknown>)[key]);
    if (v !== undefined) out[key] = v;
  }
  return Object.freeze(out);
}

/** RFC 3339 like the API server writes it (second precision unless there are milliseconds). */
export function formatTime(date: Date): string {
  if (Number.isNaN(date.getTime())) return '';
  const iso = date.toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}
