// Summarizes a V8 .cpuprofile (node --cpu-prof): self time per function and per area (our
// src/ files, undici, node internals, GC, ...), and inclusive time of our own functions.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface ProfileEntry {
  readonly fn: string;
  readonly where: string;
  readonly area: string;
  readonly pct: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Share of non-idle time per area, percent. */
  readonly areas: Record<string, number>;
  /** Top functions by self time (percent of non-idle time). */
  readonly self: readonly ProfileEntry[];
  /** Our own (src/) functions by inclusive time (percent of non-idle time). */
  readonly oursInclusive: readonly ProfileEntry[];
}

function areaOf(url: string, fn: string): string {
  if (url === '') {
    if (fn === '(garbage collector)') return 'GC';
    if (fn === '(idle)') return 'idle';
    if (fn === '(program)') return 'program (native, unattributed)';
    return 'native';
  }
  const src = url.match(/\/src\/(.+)$/);
  if (src && !url.includes('node_modules')) return `switchyard ${src[1].split('/')[0]}/`;
  const mod = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (mod) return mod[1];
  if (url.startsWith('node:')) return url.startsWith('node:internal/http') || url.startsWith('node:_http') ? 'node http' : url.startsWith('node:internal/streams') || url.startsWith('node:internal/stream') ? 'node streams' : 'node other';
  return 'other';
}

function shortUrl(url: string): string {
  return url.replace(/^file:\/\/.*?\/(src|node_modules|bench)\//, '$1/');
}

/**
 * `window` (optional, µs on the monotonic clock V8 stamps profiles with, = process.hrtime) keeps
 * only the samples taken under load, leaving out startup (module loading, type stripping).
 */
export function summarizeProfile(path: string, top = 30, window?: { readonly fromUs: number; readonly toUs: number }): ProfileSummary & { readonly windowed: boolean } {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const selfUs = new Map<number, number>();
  // Only use the window when it lies inside the profile (same clock); else summarize everything.
  const windowed = window !== undefined && window.fromUs >= p.startTime && window.toUs <= p.endTime;
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    if (windowed && (t < window.fromUs || t > window.toUs)) continue;
    selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + dt);
  }
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  let busy = 0;
  const areas = new Map<string, number>();
  const fns = new Map<string, { fn: string; where: string; area: string; us: number }>();
  const inclusive = new Map<string, { fn: string; where: string; area: string; us: number }>();
  for (const n of p.nodes) {
    const us = selfUs.get(n.id) ?? 0;
    if (us === 0) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const area = areaOf(url, functionName);
    if (area === 'idle') continue;
    busy += us;
    areas.set(area, (areas.get(area) ?? 0) + us);
    const fn = functionName || '(anonymous)';
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
    const key = `${fn} ${where}`;
    const e = fns.get(key) ?? { fn, where, area, us: 0 };
    e.us += us;
    fns.set(key, e);
    // Inclusive time of our functions: walk up the stack, counting each function once per sample node.
    const seen = new Set<string>();
    for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
      const cf = byId.get(id)!.callFrame;
      if (!/\/src\//.test(cf.url) || cf.url.includes('node_modules')) continue;
      const k = `${cf.functionName || '(anonymous)'} ${shortUrl(cf.url)}:${cf.lineNumber + 1}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const ie = inclusive.get(k) ?? { fn: cf.functionName || '(anonymous)', where: `${shortUrl(cf.url)}:${cf.lineNumber + 1}`, area: areaOf(cf.url, cf.functionName), us: 0 };
      ie.us += us;
      inclusive.set(k, ie);
    }
  }
  const pct = (us: number): number => Math.round((us / Math.max(1, busy)) * 1000) / 10;
  const list = (m: Map<string, { fn: string; where: string; area: string; us: number }>, n: number): ProfileEntry[] =>
    [...m.values()].sort((a, b) => b.us - a.us).slice(0, n).map((e) => ({ fn: e.fn, where: e.where, area: e.area, pct: pct(e.us) }));
  return {
    windowed,
    totalMs: Math.round(busy / 1000),
    areas: Object.fromEntries([...areas].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, pct(v)])),
    self: list(fns, top),
    oursInclusive: list(inclusive, 20),
  };
}
