// Results on disk: bench/results/<scenario>.json (latest run), bench/results/chart.svg (rendered
// here, no deps), and the README "## Benchmarks" section between <!-- bench:start/end --> markers.
import { readFileSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ScenarioResult, Target } from './context.ts';

export const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));
const readmePath = fileURLToPath(new URL('../../README.md', import.meta.url));

export function writeResult(r: ScenarioResult): void {
  writeFileSync(join(resultsDir, `${r.scenario}.json`), `${JSON.stringify(r, null, 2)}\n`);
}

export function readResults(): Map<string, ScenarioResult> {
  const out = new Map<string, ScenarioResult>();
  if (!existsSync(resultsDir)) return out;
  for (const f of readdirSync(resultsDir).filter((f) => f.endsWith('.json')).sort()) {
    try {
      const r = JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as ScenarioResult;
      out.set(r.scenario, r);
    } catch {
      // a half-written or foreign file: ignore
    }
  }
  return out;
}

// ---- chart -------------------------------------------------------------------------------------

interface ThroughputCase {
  readonly label: string;
  readonly contenders: Record<string, { rps: number; p99: number; errors: number }>;
}

const COLORS: Record<string, string> = { direct: '#9e9e9e', nginx: '#2e7d32', 'http-proxy': '#ef6c00', switchyard: '#1565c0' };
const ORDER = ['direct', 'nginx', 'http-proxy', 'switchyard'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v: number): string {
  if (v >= 10000) return `${(v / 1000).toFixed(0)}k`;
  if (v >= 1000) return `${(v / 1000).toFixed(1)}k`;
  if (v >= 100) return v.toFixed(0);
  return String(Math.round(v * 100) / 100);
}

function panel(cases: readonly ThroughputCase[], metric: 'rps' | 'p99', title: string, top: number, width: number, height: number): string {
  const left = 60;
  const right = 10;
  const plotW = width - left - right;
  const plotH = height - 60;
  const names = ORDER.filter((n) => cases.some((c) => c.contenders[n]));
  const max = niceMax(Math.max(...cases.flatMap((c) => names.map((n) => c.contenders[n]?.[metric] ?? 0))));
  const parts: string[] = [`<text x="${left}" y="${top + 16}" font-size="14" font-weight="bold">${esc(title)}</text>`];
  const y0 = top + 30 + plotH;
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    const y = y0 - (plotH * i) / 4;
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${y + 4}" font-size="11" text-anchor="end">${fmt(v)}</text>`);
  }
  const groupW = plotW / Math.max(1, cases.length);
  const barW = Math.min(36, (groupW - 20) / Math.max(1, names.length));
  cases.forEach((c, gi) => {
    const gx = left + gi * groupW + (groupW - barW * names.length) / 2;
    names.forEach((n, bi) => {
      const v = c.contenders[n]?.[metric];
      if (v === undefined) return;
      const h = (plotH * v) / max;
      const bx = gx + bi * barW;
      parts.push(`<rect x="${bx.toFixed(1)}" y="${(y0 - h).toFixed(1)}" width="${(barW - 3).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[n] ?? '#555'}"><title>${esc(`${n} ${c.label}: ${v}${metric === 'p99' ? ' ms' : ' req/s'}`)}</title></rect>`);
      parts.push(`<text x="${(bx + (barW - 3) / 2).toFixed(1)}" y="${(y0 - h - 3).toFixed(1)}" font-size="9" text-anchor="middle">${fmt(v)}</text>`);
    });
    parts.push(`<text x="${(left + gi * groupW + groupW / 2).toFixed(1)}" y="${y0 + 16}" font-size="11" text-anchor="middle">${esc(c.label)}</text>`);
  });
  return parts.join('\n');
}

/** Grouped bar chart: req/s (top) and p99 ms (bottom) per contender, per size/connections case. */
export function renderChart(cases: readonly ThroughputCase[], subtitle: string): string {
  const width = 860;
  const panelH = 280;
  const names = ORDER.filter((n) => cases.some((c) => c.contenders[n]));
  const legend = names
    .map((n, i) => `<rect x="${60 + i * 130}" y="36" width="12" height="12" fill="${COLORS[n]}"/><text x="${78 + i * 130}" y="46" font-size="12">${n}</text>`)
    .join('\n');
  const height = 60 + panelH * 2 + 20;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
<text x="60" y="22" font-size="16" font-weight="bold">Switchyard benchmark</text>
<text x="${width - 10}" y="22" font-size="11" text-anchor="end">${esc(subtitle)}</text>
${legend}
${panel(cases, 'rps', 'Requests per second (higher is better)', 56, width, panelH)}
${panel(cases, 'p99', 'p99 latency, ms (lower is better)', 56 + panelH, width, panelH)}
</svg>
`;
}

// ---- README ------------------------------------------------------------------------------------

function targetRow(scenario: string, t: Target): string {
  const verdict = t.pass === null ? 'n/a (not measured)' : t.pass ? '**PASS**' : '**FAIL**';
  return `| ${scenario} | ${t.name} | ${t.goal} | ${t.measured ?? 'n/a'} | ${verdict} |`;
}

function num(v: unknown): string {
  return typeof v === 'number' && Number.isFinite(v) ? String(Math.round(v * 100) / 100) : 'n/a';
}

/** Markdown for everything in bench/results, each scenario via its own `markdown` renderer. */
export function renderMarkdown(unordered: Map<string, ScenarioResult>, renderers: Record<string, (r: ScenarioResult) => string>, order: readonly string[]): string {
  const rank = (name: string): number => (order.includes(name) ? order.indexOf(name) : order.length);
  const results = new Map([...unordered].sort((a, b) => rank(a[0]) - rank(b[0])));
  const any = [...results.values()][0];
  const lines: string[] = [];
  if (!any) return 'No results yet: run `npm run bench`.';
  const m = any.machine;
  // Scenarios are rerun one at a time (`--only`), so each section says when its own run was.
  const when = (iso: string | undefined): string => `${iso?.slice(0, 16).replace('T', ' ')} UTC`;
  const finished = [...results.values()].map((r) => r.finishedAt).sort();
  lines.push(
    `Runs ${when(finished[0])} to ${when(finished.at(-1))} (each scenario says when it ran)${[...results.values()].some((r) => r.quick) ? ', some from a `--quick` run' : ''}: ` +
      `${m.cpus} CPUs (${m.cpuModel}), Linux ${m.kernel}, Node ${m.node}, nginx ${m.nginx ?? 'n/a'}, autocannon ${m.autocannon}; ${m.pinned}.`,
    '',
  );
  const targets = [...results.values()].flatMap((r) => r.targets.map((t) => targetRow(r.scenario, t)));
  if (targets.length) {
    lines.push('**Targets** (from the benchmark issue; a failing target is shown, never hidden):', '', '| scenario | target | goal | measured | result |', '|---|---|---|---|---|', ...targets, '');
  }
  for (const [name, r] of results) {
    const render = renderers[name];
    lines.push(`### ${name}${r.status !== 'ok' ? ` (${r.status})` : ''}`, '', `Run ${when(r.finishedAt)}${r.quick ? ' (`--quick`)' : ''}.`, '');
    if (r.note) lines.push(r.note, '');
    if (render && r.data !== null) lines.push(render(r), '');
  }
  return lines.join('\n');
}

export function rewriteReadme(markdown: string): boolean {
  const readme = readFileSync(readmePath, 'utf8');
  const startMarker = '<!-- bench:start -->';
  const endMarker = '<!-- bench:end -->';
  const a = readme.indexOf(startMarker);
  const b = readme.indexOf(endMarker);
  if (a === -1 || b === -1 || b < a) return false;
  const next = `${readme.slice(0, a + startMarker.length)}\n${markdown.trim()}\n${readme.slice(b)}`;
  if (next !== readme) writeFileSync(readmePath, next);
  return true;
}

export { num };
