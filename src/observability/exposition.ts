// Prometheus text (0.0.4) and OpenMetrics (1.0.0) exposition, written by hand.
//
// Why not prom-client's Registry#metrics(): its content type is a property of the registry, and
// rendering OpenMetrics renames counters in place (it strips `_total` from the metric object), so
// one registry cannot answer both formats per request. We read prom-client's metrics with
// getMetricsAsJSON() (no mutation) and render the per-route accumulators directly; both go through
// this writer, which knows the two formats' few differences (counter family names, `# EOF`,
// canonical `le` values).

import type { MetricObjectWithValues, MetricValue, MetricValueWithName } from 'prom-client';

export type ExpositionFormat = 'prometheus' | 'openmetrics';
export type FamilyType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'unknown';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/**
 * Content negotiation on the Accept header: OpenMetrics when the client lists
 * application/openmetrics-text with a q-value at least as high as any text/plain (or wildcard)
 * entry it also lists; Prometheus text otherwise (including no Accept header).
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (accept === undefined || !accept.includes('application/openmetrics-text')) return 'prometheus';
  let openmetrics = -1;
  let text = -1;
  for (const entry of accept.split(',')) {
    const params = entry.split(';');
    const type = params[0].trim().toLowerCase();
    let q = 1;
    for (let i = 1; i < params.length; i++) {
      const [k, v] = params[i].split('=');
      if (k.trim().toLowerCase() === 'q') {
        const n = Number(v);
        if (Number.isFinite(n)) q = n;
      }
    }
    if (type === 'application/openmetrics-text') openmetrics = Math.max(openmetrics, q);
    else if (type === 'text/plain' || type === '*/*' || type === 'text/*') text = Math.max(text, q);
  }
  return openmetrics > 0 && openmetrics >= text ? 'openmetrics' : 'prometheus';
}

export function contentTypeOf(format: ExpositionFormat): string {
  return format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
}

export function escapeLabelValue(value: string): string {
  return value.replace(/[\\\n"]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : '\\"'));
}

/** `a="x",b="y"` from [name, value] pairs, in the order given. */
export function formatLabels(pairs: readonly (readonly [string, string])[]): string {
  let out = '';
  for (const [name, value] of pairs) {
    if (out !== '') out += ',';
    out += `${name}="${escapeLabelValue(value)}"`;
  }
  return out;
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function joinLabels(a: string, b: string): string {
  return a === '' ? b : b === '' ? a : `${a},${b}`;
}

/** Bytes of text after which renderers hand a chunk out (and let the event loop run). */
export const CHUNK_SIZE = 64 * 1024;

export class ExpositionWriter {
  readonly format: ExpositionFormat;
  #parts: string[] = [];
  #pending = 0;
  readonly #leCache = new Map<readonly number[], string[]>();

  constructor(format: ExpositionFormat) {
    this.format = format;
  }

  /** Characters written since the last take(). */
  get pending(): number {
    return this.#pending;
  }

  /** True when a chunk is ready to be handed out. */
  get full(): boolean {
    return this.#pending >= CHUNK_SIZE;
  }

  /** The text written since the last take(). */
  take(): string {
    const text = this.#parts.join('');
    this.#parts = [];
    this.#pending = 0;
    return text;
  }

  #push(text: string): void {
    this.#parts.push(text);
    this.#pending += text.length;
  }

  /** `le` label value: OpenMetrics wants canonical floats ("1.0"), Prometheus text Go-style ("1"). */
  le(bound: number): string {
    if (bound === Infinity) return '+Inf';
    const s = String(bound);
    return this.format === 'openmetrics' && Number.isInteger(bound) && !s.includes('e') ? `${s}.0` : s;
  }

  /**
   * Start a family. `name` is the sample name for counters (with `_total`); in OpenMetrics the
   * family is named without it. Returns the sample name to use for the family's samples.
   * A counter whose name does not end in `_total` is written as `unknown` in OpenMetrics, so its
   * sample name stays exactly the same in both formats (ingress-nginx compatibility).
   */
  family(name: string, type: FamilyType, help: string): string {
    let family = name;
    let t: FamilyType = type;
    if (this.format === 'openmetrics' && type === 'counter') {
      if (name.endsWith('_total')) family = name.slice(0, -6);
      else t = 'unknown';
    }
    const escapedHelp = this.format === 'openmetrics'
      ? help.replace(/[\\\n"]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : '\\"'))
      : help.replace(/[\\\n]/g, (c) => (c === '\\' ? '\\\\' : '\\n'));
    this.#push(`# HELP ${family} ${escapedHelp}\n# TYPE ${family} ${t}\n`);
    return name;
  }

  /** One sample line; `labels` pre-formatted (`a="x",b="y"`) or "". */
  sample(name: string, labels: string, value: number): void {
    this.#push(labels === '' ? `${name} ${formatValue(value)}\n` : `${name}{${labels}} ${formatValue(value)}\n`);
  }

  /** `le="0.005"} ` suffixes of the rendered bounds, built once per writer. */
  #leSuffixes(bounds: Float64Array, render: readonly number[]): string[] {
    let cached = this.#leCache.get(render);
    if (cached === undefined) {
      cached = render.map((index) => `le="${this.le(bounds[index])}"} `);
      this.#leCache.set(render, cached);
    }
    return cached;
  }

  /**
   * One histogram series from non-cumulative accumulator buckets.
   * `data[offset + i]` counts values in (bounds[i-1], bounds[i]]; `data[offset + bounds.length]` the
   * overflow; then sum and count. `render` lists the accumulator indexes of the bounds to expose
   * (each exposed bound must be an accumulator bound, so the cumulative counts are exact).
   */
  histogram(name: string, labels: string, data: Float64Array, offset: number, bounds: Float64Array, render: readonly number[]): void {
    const n = bounds.length;
    const suffixes = this.#leSuffixes(bounds, render);
    const bucket = labels === '' ? `${name}_bucket{` : `${name}_bucket{${labels},`;
    let cumulative = 0;
    let i = 0;
    let out = '';
    for (let r = 0; r < render.length; r++) {
      const index = render[r];
      while (i <= index) cumulative += data[offset + i++];
      out += bucket + suffixes[r] + cumulative + '\n';
    }
    const count = data[offset + n + 2];
    out += bucket + 'le="+Inf"} ' + count + '\n';
    out += labels === '' ? `${name}_sum ${formatValue(data[offset + n + 1])}\n` : `${name}_sum{${labels}} ${formatValue(data[offset + n + 1])}\n`;
    out += labels === '' ? `${name}_count ${count}\n` : `${name}_count{${labels}} ${count}\n`;
    this.#push(out);
  }

  /** Families read from prom-client (registry.getMetricsAsJSON()). */
  promClient(metrics: readonly MetricObjectWithValues<MetricValue<string>>[]): void {
    for (const metric of metrics) {
      const type = String(metric.type) as FamilyType;
      const name = this.family(metric.name, type, metric.help);
      const openCounter = this.format === 'openmetrics' && type === 'counter';
      for (const value of metric.values as readonly MetricValueWithName<string>[]) {
        let sampleName = value.metricName ?? name;
        if (openCounter && !sampleName.endsWith('_total')) sampleName += '_total';
        const pairs: [string, string][] = [];
        let le: string | null = null;
        for (const [k, v] of Object.entries(value.labels ?? {})) {
          if (v === undefined) continue;
          if (k === 'le' && type === 'histogram') le = typeof v === 'number' ? this.le(v) : String(v);
          else pairs.push([k, String(v)]);
        }
        let labels = formatLabels(pairs);
        if (le !== null) labels = joinLabels(labels, `le="${le}"`);
        this.sample(sampleName, labels, value.value);
      }
    }
  }

  /** Writes the trailer (OpenMetrics `# EOF`) and returns the remaining text. */
  end(): string {
    if (this.format === 'openmetrics') this.#push('# EOF\n');
    return this.take();
  }
}

/** Accumulator indexes of `wanted` bounds inside `bounds` (throws if one is missing: programmer error). */
export function boundIndexes(bounds: Float64Array, wanted: readonly number[]): number[] {
  return wanted.map((b) => {
    const i = bounds.indexOf(b);
    if (i < 0) throw new Error(`bucket bound ${b} is not an accumulator bound`);
    return i;
  });
}
