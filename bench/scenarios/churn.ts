// Reload-free under churn: steady load on one route while the route table changes 20 times a
// second (Ingresses added, edited, removed, and the loaded route's backend switched between two
// upstreams). Switchyard gets the changes as manifest files; nginx gets them the way reload-based
// controllers do it: regenerate nginx.conf and reload (SIGHUP to the master = `nginx -s reload`).
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import type { Scenario } from './scenario.ts';
import { result, check, x } from './scenario.ts';
import { startUpstream, type Upstream } from '../lib/upstreams.ts';
import { runLoad, failures, SERVER_CORE, type LoadSummary } from '../lib/load.ts';
import { ManifestDir, docs, ingressClassYaml, ingressYaml, serviceYaml } from '../lib/manifests.ts';
import { startSwitchyard, switchyardUnavailable } from '../lib/switchyard.ts';
import { startNginx, proxyConfig, type NginxRoute, type NginxInstance } from '../lib/nginx.ts';
import { freePort, get } from '../lib/net.ts';
import { delay } from '../lib/procs.ts';
import { median, percentile, round } from '../lib/stats.ts';
import { num } from '../lib/report.ts';

const HOT_HOST = 'churn.local';
const RATE_PER_SEC = 20;
const INITIAL_EXTRAS = 20;

type Action = 'add' | 'edit' | 'remove' | 'switch';

/** The changing world both contenders are driven through: extra Ingresses and the hot route's backend. */
class ChurnModel {
  hotBackend: 'a' | 'b' = 'a';
  readonly extras = new Map<number, string>(); // id -> path
  #next = 0;

  constructor() {
    for (let i = 0; i < INITIAL_EXTRAS; i++) this.extras.set(this.#next++, '/');
  }

  /** Applies change number `i` to the model; returns what changed (and which extra). */
  step(i: number): { action: Action; id: number } {
    const action = (['add', 'edit', 'remove', 'switch'] as const)[i % 4];
    switch (action) {
      case 'add': {
        const id = this.#next++;
        this.extras.set(id, '/');
        return { action, id };
      }
      case 'edit': {
        const ids = [...this.extras.keys()];
        const id = ids[i % ids.length];
        this.extras.set(id, `/v${i}`);
        return { action, id };
      }
      case 'remove': {
        const id = this.extras.keys().next().value as number;
        this.extras.delete(id);
        return { action, id };
      }
      case 'switch':
        this.hotBackend = this.hotBackend === 'a' ? 'b' : 'a';
        return { action, id: -1 };
    }
  }
}

interface Phase {
  readonly load: LoadSummary;
  readonly changes: number;
  /** Hot-route backend switches and how long until a probe saw the new backend (ms). */
  readonly switches?: { readonly observed: number; readonly total: number; readonly p50: number; readonly p99: number };
}

/** One contender's runs: segments alternate with the other contender's, figures are medians. */
interface Side {
  readonly baselines: LoadSummary[];
  readonly churns: LoadSummary[];
  readonly switchTimes: number[];
  switchesTotal: number;
  changes: number;
  baseline?: Phase;
  churn?: Phase;
  error?: string;
}

function newSide(): Side {
  return { baselines: [], churns: [], switchTimes: [], switchesTotal: 0, changes: 0 };
}

/** Medians over segments (req/s, p50, p99); failures summed: what the README shows. */
function aggregate(runs: readonly LoadSummary[]): LoadSummary {
  const med = (f: (s: LoadSummary) => number): number => median(runs.map(f));
  return {
    rps: med((s) => s.rps),
    p50: med((s) => s.p50),
    p90: med((s) => s.p90),
    p99: med((s) => s.p99),
    max: Math.max(...runs.map((s) => s.max)),
    mean: med((s) => s.mean),
    requests: runs.reduce((n, s) => n + s.requests, 0),
    errors: runs.reduce((n, s) => n + s.errors, 0),
    timeouts: runs.reduce((n, s) => n + s.timeouts, 0),
    non2xx: runs.reduce((n, s) => n + s.non2xx, 0),
    mismatches: runs.reduce((n, s) => n + s.mismatches, 0),
    durationSec: runs.reduce((n, s) => n + s.durationSec, 0),
    statusCodes: {},
  };
}

/** Drives `apply` at RATE_PER_SEC for `seconds` with a drift-free schedule, from change `first`. */
async function churn(seconds: number, first: number, apply: (i: number) => void): Promise<number> {
  const started = performance.now();
  const period = 1000 / RATE_PER_SEC;
  let n = 0;
  while (performance.now() - started < seconds * 1000) {
    apply(first + n++);
    const next = started + n * period;
    await delay(Math.max(0, next - performance.now()));
  }
  return n;
}

/** Polls the hot route until it answers from `expected`; resolves with the ms it took or NaN. */
async function observe(port: number, expected: string, since: number): Promise<number> {
  while (performance.now() - since < 3000) {
    try {
      const res = await get(port, '/b100', HOT_HOST, 1000);
      if (res.headers['x-upstream'] === expected) return performance.now() - since;
    } catch {
      // counted by the load generator; keep polling
    }
    await delay(2);
  }
  return Number.NaN;
}

/** One churn segment: load for `seconds` while `apply` runs 20 times a second; updates `side`. */
async function churnSegment(side: Side, port: number, seconds: number, connections: number, model: ChurnModel, apply: (i: number, model: ChurnModel) => string | null): Promise<LoadSummary> {
  const loadPromise = runLoad({ url: `http://127.0.0.1:${port}/b100`, host: HOT_HOST, connections, durationSec: seconds });
  await delay(300); // let the load generator connect before the first change
  const probes: Promise<number>[] = [];
  side.changes += await churn(seconds - 0.8, side.changes, (i) => {
    const expected = apply(i, model);
    if (expected) probes.push(observe(port, expected, performance.now()));
  });
  const load = await loadPromise;
  const times = await Promise.all(probes);
  side.switchesTotal += times.length;
  for (const t of times) if (Number.isFinite(t)) side.switchTimes.push(t);
  side.churns.push(load);
  return load;
}

function finish(side: Side): void {
  if (side.baselines.length) side.baseline = { load: aggregate(side.baselines), changes: 0 };
  if (side.churns.length) {
    const seen = side.switchTimes;
    side.churn = {
      load: aggregate(side.churns),
      changes: side.changes,
      switches: { observed: seen.length, total: side.switchesTotal, p50: round(median(seen), 1), p99: round(percentile(seen, 99), 1) },
    };
  }
}

export const churnScenario: Scenario = {
  name: 'churn',
  title: `Reload-free under churn (${RATE_PER_SEC} route changes/s)`,
  async run(ctx, shared) {
    const seconds = ctx.quick ? 8 : 30;
    const connections = 50;
    const ups: Upstream[] = [];
    const stops: (() => Promise<void>)[] = [];
    const data: Record<string, Side> = {};
    const rounds = ctx.quick ? 1 : 3;
    try {
      ups.push(await startUpstream(shared.upstreamKind, 'churn-a', ctx.tmp, ctx.nginx));
      ups.push(await startUpstream(shared.upstreamKind, 'churn-b', ctx.tmp, ctx.nginx));
      const [a, b] = ups;
      const portOf = (backend: 'a' | 'b'): number => (backend === 'a' ? a.port : b.port);

      // --- Switchyard: manifests folder
      let sy: { port: number } | null = null;
      const root = mkdtempSync(join(ctx.tmp, 'churn-sy-'));
      const dir = new ManifestDir(root);
      try {
        const unavailable = switchyardUnavailable();
        if (unavailable) throw new Error(unavailable);
        dir.write('class.yaml', ingressClassYaml());
        dir.write('services.yaml', docs(serviceYaml('churn-a', a.port, ['127.0.0.1']), serviceYaml('churn-b', b.port, ['127.0.0.1'])));
        dir.write('hot.yaml', ingressYaml('hot', HOT_HOST, 'churn-a'));
        for (let i = 0; i < INITIAL_EXTRAS; i++) dir.write(`extra-${i}.yaml`, ingressYaml(`extra-${i}`, `extra-${i}.local`, 'churn-a'));
        const started = await startSwitchyard({ manifests: dir.dir, core: SERVER_CORE, probe: { host: HOT_HOST, path: '/b100', upstream: a.name } });
        stops.push(() => started.stop());
        sy = started;
      } catch (err) {
        data.switchyard = { ...newSide(), error: (err as Error).message.split('\n')[0] };
        ctx.log(`churn: switchyard not available: ${(err as Error).message}`);
      }

      // --- nginx: regenerated config + reload
      let ng: NginxInstance | null = null;
      const nginxRoutes = (model: ChurnModel): NginxRoute[] => [
        { host: HOT_HOST, upstreamPorts: [portOf(model.hotBackend)] },
        ...[...model.extras.keys()].map((id) => ({ host: `extra-${id}.local`, upstreamPorts: [a.port] })),
      ];
      if (ctx.nginx) {
        const port = await freePort();
        const ndir = mkdtempSync(join(ctx.tmp, 'churn-nginx-'));
        ng = await startNginx(ctx.nginx, ndir, port, proxyConfig(ndir, port, nginxRoutes(new ChurnModel())), SERVER_CORE);
        const instance = ng;
        stops.push(() => instance.stop());
      } else {
        data.nginx = { ...newSide(), error: 'nginx not available' };
      }

      const applySwitchyard = (i: number, model: ChurnModel): string | null => {
        const { action, id } = model.step(i);
        if (action === 'add' || action === 'edit') dir.write(`extra-${id}.yaml`, ingressYaml(`extra-${id}`, `extra-${id}.local`, 'churn-a', model.extras.get(id)));
        else if (action === 'remove') dir.remove(`extra-${id}.yaml`);
        else {
          dir.write('hot.yaml', ingressYaml('hot', HOT_HOST, `churn-${model.hotBackend}`));
          return `churn-${model.hotBackend}`;
        }
        return null;
      };
      const applyNginx = (i: number, model: ChurnModel): string | null => {
        const { action } = model.step(i);
        ng!.reload(proxyConfig(ng!.dir, ng!.port, nginxRoutes(model)));
        return action === 'switch' ? `churn-${model.hotBackend}` : null;
      };

      // Segments alternated: per round, baseline then churn for each contender in turn; the
      // churn segments together make up `seconds` of changes at RATE_PER_SEC.
      const segment = seconds / rounds;
      const syModel = new ChurnModel();
      const ngModel = new ChurnModel();
      for (let r = 0; r < rounds; r++) {
        if (sy) {
          const side = (data.switchyard ??= newSide());
          const base = await runLoad({ url: `http://127.0.0.1:${sy.port}/b100`, host: HOT_HOST, connections, durationSec: segment });
          side.baselines.push(base);
          const ch = await churnSegment(side, sy.port, segment, connections, syModel, applySwitchyard);
          ctx.log(`  round ${r + 1}/${rounds} switchyard: no churn ${Math.round(base.rps)} req/s p99 ${base.p99} ms failed ${failures(base)}; churn ${Math.round(ch.rps)} req/s p99 ${ch.p99} ms failed ${failures(ch)}`);
        }
        if (ng) {
          const side = (data.nginx ??= newSide());
          const base = await runLoad({ url: `http://127.0.0.1:${ng.port}/b100`, host: HOT_HOST, connections, durationSec: segment });
          side.baselines.push(base);
          const ch = await churnSegment(side, ng.port, segment, connections, ngModel, applyNginx);
          ctx.log(`  round ${r + 1}/${rounds} nginx:      no churn ${Math.round(base.rps)} req/s p99 ${base.p99} ms failed ${failures(base)}; reloads ${Math.round(ch.rps)} req/s p99 ${ch.p99} ms failed ${failures(ch)}`);
        }
      }
      for (const side of Object.values(data)) finish(side);
      for (const [name, d] of Object.entries(data)) {
        if (d.baseline && d.churn) {
          ctx.log(`  ${name}: no churn p99 ${d.baseline.load.p99} ms, churn p99 ${d.churn.load.p99} ms, failed ${failures(d.churn.load)} (${d.churn.changes} changes, backend switch seen ${d.churn.switches?.observed}/${d.churn.switches?.total}, p50 ${d.churn.switches?.p50} ms)`);
        }
      }
    } finally {
      for (const stop of stops.reverse()) await stop();
      for (const u of ups) await u.stop();
    }

    const s = data.switchyard;
    const failedUnderChurn = s?.churn ? failures(s.churn.load) : NaN;
    const p99Ratio = s?.churn && s.baseline && s.baseline.load.p99 > 0 ? s.churn.load.p99 / s.baseline.load.p99 : NaN;
    return result(ctx, 'churn', {
      status: s?.churn && data.nginx?.churn ? 'ok' : s?.churn ? 'partial' : 'not available yet',
      note: s?.error ? `Switchyard not available: ${s.error}` : undefined,
      settings: { seconds, rounds, segmentSec: seconds / rounds, connections, ratePerSec: RATE_PER_SEC, initialExtras: INITIAL_EXTRAS, upstream: shared.upstreamKind },
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, { baseline: v.baseline, churn: v.churn, error: v.error, segments: { baseline: v.baselines, churn: v.churns } }])),
      targets: [
        check('failed requests under churn', '0', failedUnderChurn, (v) => v === 0, String),
        check('p99 under churn vs no churn', '<= 1.5x', p99Ratio, (v) => v <= 1.5),
        check('backend switches served by the new backend', 'all', s?.churn?.switches ? s.churn.switches.observed / Math.max(1, s.churn.switches.total) : NaN, (v) => v === 1, (v) => `${Math.round(v * 100)}%`),
      ],
    });
  },
  markdown(r) {
    const data = r.data as Record<string, { baseline?: Phase; churn?: Phase; error?: string }>;
    const lines = [
      `${String(r.settings.connections)} connections on one route, ${String(r.settings.seconds)} s without and ${String(r.settings.seconds)} s with ${String(r.settings.ratePerSec)} route changes/s (add, edit, remove an Ingress, switch the loaded route's backend), in ${String(r.settings.rounds)} alternated segments per contender (medians; failures summed). nginx: regenerated config + reload (SIGHUP) per change, as reload-based controllers do.`,
      '',
      '| contender | phase | req/s | p50 ms | p99 ms | failed | changes | backend switch seen (p50 / p99 ms) |',
      '|---|---|---:|---:|---:|---:|---:|---|',
    ];
    for (const [name, d] of Object.entries(data)) {
      if (d.error) lines.push(`| ${name} | not available: ${d.error} | | | | | | |`);
      for (const [phase, p] of [['no churn', d.baseline], ['churn', d.churn]] as const) {
        if (!p) continue;
        const sw = p.switches ? `${p.switches.observed}/${p.switches.total} (${num(p.switches.p50)} / ${num(p.switches.p99)})` : '';
        lines.push(`| ${name} | ${phase} | ${Math.round(p.load.rps)} | ${num(p.load.p50)} | ${num(p.load.p99)} | ${failures(p.load)} | ${p.changes} | ${sw} |`);
      }
      if (d.baseline && d.churn && d.baseline.load.p99 > 0) lines.push(`| ${name} | p99 churn / no churn | | | ${x(d.churn.load.p99 / d.baseline.load.p99)} | | | |`);
    }
    return lines.join('\n');
  },
};
