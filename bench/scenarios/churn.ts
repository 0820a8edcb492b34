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

/** Drives `apply` at RATE_PER_SEC for `seconds` with a drift-free schedule; returns the count. */
async function churn(seconds: number, apply: (i: number) => void): Promise<number> {
  const started = performance.now();
  const period = 1000 / RATE_PER_SEC;
  let i = 0;
  while (performance.now() - started < seconds * 1000) {
    apply(i++);
    const next = started + i * period;
    await delay(Math.max(0, next - performance.now()));
  }
  return i;
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

async function withChurn(port: number, seconds: number, connections: number, apply: (i: number, model: ChurnModel) => string | null): Promise<Phase> {
  const model = new ChurnModel();
  const loadPromise = runLoad({ url: `http://127.0.0.1:${port}/b100`, host: HOT_HOST, connections, durationSec: seconds });
  await delay(300); // let the load generator connect before the first change
  const probes: Promise<number>[] = [];
  const changes = await churn(seconds - 0.8, (i) => {
    const expected = apply(i, model);
    if (expected) probes.push(observe(port, expected, performance.now()));
  });
  const load = await loadPromise;
  const times = await Promise.all(probes);
  const seen = times.filter((t) => Number.isFinite(t));
  return { load, changes, switches: { observed: seen.length, total: times.length, p50: round(median(seen), 1), p99: round(percentile(seen, 99), 1) } };
}

export const churnScenario: Scenario = {
  name: 'churn',
  title: `Reload-free under churn (${RATE_PER_SEC} route changes/s)`,
  async run(ctx, shared) {
    const seconds = ctx.quick ? 8 : 30;
    const connections = 50;
    const ups: Upstream[] = [];
    const stops: (() => Promise<void>)[] = [];
    const data: Record<string, { baseline?: Phase; churn?: Phase; error?: string }> = {};
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
        data.switchyard = { error: (err as Error).message.split('\n')[0] };
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
        data.nginx = { error: 'nginx not available' };
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

      // Alternated: baselines first (both), then churn (both).
      if (sy) {
        ctx.log('  switchyard: baseline (no churn)');
        data.switchyard = { baseline: { load: await runLoad({ url: `http://127.0.0.1:${sy.port}/b100`, host: HOT_HOST, connections, durationSec: seconds }), changes: 0 } };
      }
      if (ng) {
        ctx.log('  nginx: baseline (no churn)');
        data.nginx = { baseline: { load: await runLoad({ url: `http://127.0.0.1:${ng.port}/b100`, host: HOT_HOST, connections, durationSec: seconds }), changes: 0 } };
      }
      if (sy) {
        ctx.log(`  switchyard: ${RATE_PER_SEC} changes/s for ${seconds} s`);
        data.switchyard!.churn = await withChurn(sy.port, seconds, connections, applySwitchyard);
      }
      if (ng) {
        ctx.log(`  nginx: ${RATE_PER_SEC} reloads/s for ${seconds} s`);
        data.nginx!.churn = await withChurn(ng.port, seconds, connections, applyNginx);
      }
      for (const [name, d] of Object.entries(data)) {
        if (d.baseline && d.churn) {
          ctx.log(`  ${name}: baseline ${Math.round(d.baseline.load.rps)} req/s p99 ${d.baseline.load.p99} ms failed ${failures(d.baseline.load)}; churn ${Math.round(d.churn.load.rps)} req/s p99 ${d.churn.load.p99} ms failed ${failures(d.churn.load)} (${d.churn.changes} changes, backend switch seen ${d.churn.switches?.observed}/${d.churn.switches?.total}, p50 ${d.churn.switches?.p50} ms)`);
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
      settings: { seconds, connections, ratePerSec: RATE_PER_SEC, initialExtras: INITIAL_EXTRAS, upstream: shared.upstreamKind },
      data,
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
      `${String(r.settings.connections)} connections on one route for ${String(r.settings.seconds)} s, without and with ${String(r.settings.ratePerSec)} route changes/s (add, edit, remove an Ingress, switch the loaded route's backend). nginx: regenerated config + reload per change.`,
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
