// Profile the hot path: the controller under load (100 B, 50 connections) with `node --cpu-prof`;
// the summary (areas, top self-time functions, our functions by inclusive time) goes to
// bench/results/profile.json. The analysis lives in bench/PROFILE.md.
import { copyFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Scenario } from './scenario.ts';
import { result } from './scenario.ts';
import { startUpstream } from '../lib/upstreams.ts';
import { benchManifests, BENCH_HOST, SHIPPED_ARGS } from '../lib/contenders.ts';
import { startSwitchyard, switchyardMode } from '../lib/switchyard.ts';
import { runLoad, SERVER_CORE } from '../lib/load.ts';
import { summarizeProfile, type ProfileSummary } from '../lib/cpuprofile.ts';

const lastProfile = join(tmpdir(), 'switchyard-bench-last.cpuprofile');
import { waitUntil } from '../lib/net.ts';

export const profileScenario: Scenario = {
  name: 'profile',
  title: 'CPU profile of the hot path (node --cpu-prof under load)',
  async run(ctx, shared) {
    const mode = switchyardMode();
    const seconds = ctx.quick ? 5 : 15;
    const profDir = mkdtempSync(join(ctx.tmp, 'cpuprof-'));
    const upstream = await startUpstream(shared.upstreamKind, 'bench-up', ctx.tmp, ctx.nginx);
    try {
      const manifests = benchManifests(ctx, upstream.port);
      const sy = await startSwitchyard({
        manifests: manifests.dir,
        core: SERVER_CORE,
        nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir],
        extraArgs: SHIPPED_ARGS(),
        probe: { host: BENCH_HOST, path: '/b100', upstream: upstream.name },
      });
      await runLoad({ url: `http://127.0.0.1:${sy.port}/b100`, host: BENCH_HOST, connections: 50, durationSec: 2 }); // warm-up, also profiled
      const fromUs = Number(process.hrtime.bigint() / 1000n);
      const load = await runLoad({ url: `http://127.0.0.1:${sy.port}/b100`, host: BENCH_HOST, connections: 50, durationSec: seconds });
      const toUs = Number(process.hrtime.bigint() / 1000n);
      await sy.stop(); // the profile is written when the process exits cleanly
      await waitUntil('cpu profile', async () => readdirSync(profDir).some((f) => f.endsWith('.cpuprofile')), 10_000, 100).catch(() => {});
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (!file) return result(ctx, 'profile', { status: 'failed', note: 'no .cpuprofile written (did the controller exit cleanly on SIGTERM?)' });
      const summary = summarizeProfile(join(profDir, file), 30, { fromUs, toUs });
      copyFileSync(join(profDir, file), lastProfile);
      ctx.log(`  profile kept at ${lastProfile} (open in Chrome DevTools); ${summary.windowed ? 'samples under load only' : 'whole process life (clock mismatch)'}`);
      ctx.log(`  ${Math.round(load.rps)} req/s while profiling; areas: ${Object.entries(summary.areas).slice(0, 8).map(([k, v]) => `${k} ${v}%`).join(', ')}`);
      for (const e of summary.self.slice(0, 15)) ctx.log(`   ${String(e.pct).padStart(5)}%  ${e.fn}  ${e.where}`);
      return result(ctx, 'profile', {
        status: 'ok',
        note: mode === 'embedded' ? 'embedded data plane (src/main.ts not there yet): routing + proxy only' : undefined,
        settings: { seconds, connections: 50, size: 100, upstream: shared.upstreamKind, switchyard: mode, args: SHIPPED_ARGS() },
        data: { rpsWhileProfiling: Math.round(load.rps), ...summary },
      });
    } finally {
      await upstream.stop();
    }
  },
  markdown(r) {
    const d = r.data as ProfileSummary & { rpsWhileProfiling: number };
    const lines = [`Share of busy CPU time in the controller under load (${d.rpsWhileProfiling} req/s while profiling); analysis in [bench/PROFILE.md](bench/PROFILE.md).`, '', '| area | % |', '|---|---:|'];
    for (const [k, v] of Object.entries(d.areas).slice(0, 10)) lines.push(`| ${k} | ${v} |`);
    return lines.join('\n');
  },
};
