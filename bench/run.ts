// `npm run bench [-- --quick] [-- --only throughput,churn,...]`: Switchyard vs direct, nginx and
// http-proxy on this machine, load generator pinned to core 0 and servers to core 1. Writes
// bench/results/<scenario>.json, bench/results/chart.svg and the README "## Benchmarks" section.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { installCleanup, pinSelf, stopAll } from './lib/procs.ts';
import { ensureNginx } from './lib/nginx.ts';
import { machineInfo, type BenchContext, type ScenarioResult } from './lib/context.ts';
import { readResults, renderChart, renderMarkdown, resultsDir, rewriteReadme, writeResult } from './lib/report.ts';
import { LOAD_CORE } from './lib/load.ts';
import type { Scenario, Shared } from './scenarios/scenario.ts';
import { result } from './scenarios/scenario.ts';
import { upstreamScenario } from './scenarios/upstream.ts';
import { throughputScenario } from './scenarios/throughput.ts';
import { churnScenario } from './scenarios/churn.ts';
import { propagationScenario } from './scenarios/propagation.ts';
import { scaleScenario } from './scenarios/scale.ts';
import { overheadsScenario } from './scenarios/overheads.ts';
import { profileScenario } from './scenarios/profile.ts';
import { workersScenario } from './scenarios/workers.ts';
import { tlsScenario } from './scenarios/tls.ts';

const SCENARIOS: readonly Scenario[] = [upstreamScenario, throughputScenario, tlsScenario, churnScenario, propagationScenario, workersScenario, scaleScenario, overheadsScenario, profileScenario];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    'no-readme': { type: 'boolean', default: false },
    'report-only': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: false,
});

if (values.help) {
  console.log(`usage: npm run bench -- [--quick] [--only ${SCENARIOS.map((s) => s.name).join(',')}] [--rounds N] [--duration SEC] [--no-readme]
  --quick      short runs, fewer rounds (a few minutes)
  --only       comma-separated scenarios (the upstream choice runs whenever a load scenario does)
  --rounds     rounds per comparison (default 5, quick 2)
  --duration   seconds per load run in comparisons (default 5, quick 3)
  --no-readme  do not rewrite the README section
  --report-only  run nothing: re-render chart.svg and the README section from bench/results/*.json`);
  process.exit(0);
}

const only = values.only ? new Set(values.only.split(',').map((s) => s.trim()).filter(Boolean)) : null;
if (only) {
  const unknown = [...only].filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) {
    console.error(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
  // Every load scenario needs the upstream choice.
  if ([...only].some((n) => n !== 'upstream')) only.add('upstream');
}
const selected = values['report-only'] ? [] : SCENARIOS.filter((s) => !only || only.has(s.name));

const tmp = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
const cleanup = (): void => rmSync(tmp, { recursive: true, force: true });
installCleanup(cleanup);
pinSelf(LOAD_CORE);

const log = (message: string): void => console.log(message);
const nginx = selected.length ? ensureNginx(log) : null;
const quick = values.quick ?? false;
const ctx: BenchContext = {
  quick,
  rounds: Number(values.rounds ?? (quick ? 2 : 5)),
  durationSec: Number(values.duration ?? (quick ? 3 : 5)),
  tmp,
  nginx,
  machine: machineInfo(nginx),
  log,
};
const m = ctx.machine;
log(`machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryMiB} MiB, Linux ${m.kernel}, load avg ${m.loadAvgAtStart.join(' ')}`);
log(`versions: node ${m.node}, nginx ${m.nginx ?? 'n/a'}, autocannon ${m.autocannon}`);
log(`pinning: ${m.pinned}`);
log(`scenarios: ${selected.map((s) => s.name).join(', ')}${quick ? ' (quick)' : ''}; rounds ${ctx.rounds}, ${ctx.durationSec} s per run\n`);

const shared: Shared = { upstreamKind: nginx ? 'nginx' : 'node' };
const started = performance.now();
let failed = 0;
for (const scenario of selected) {
  log(`== ${scenario.name}: ${scenario.title}`);
  const t0 = performance.now();
  let r: ScenarioResult;
  try {
    r = await scenario.run(ctx, shared);
  } catch (err) {
    failed++;
    console.error(err);
    r = result(ctx, scenario.name, { status: 'failed', note: `failed: ${(err as Error).message.split('\n')[0]}` });
  }
  await stopAll();
  writeResult(r);
  for (const t of r.targets) log(`  target ${t.name}: ${t.goal}, measured ${t.measured ?? 'n/a'} -> ${t.pass === null ? 'n/a' : t.pass ? 'PASS' : 'FAIL'}`);
  log(`== ${scenario.name}: ${r.status}${r.note ? ` (${r.note})` : ''} in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
}

const results = readResults();
const throughput = results.get('throughput');
if (throughput && throughput.data) {
  const cases = (throughput.data as { cases: Parameters<typeof renderChart>[0] }).cases;
  const subtitle = `${m.cpus} CPUs, node ${m.node}, nginx ${m.nginx ?? 'n/a'}, autocannon ${m.autocannon}, ${throughput.finishedAt.slice(0, 10)}`;
  writeFileSync(join(resultsDir, 'chart.svg'), renderChart(cases, subtitle));
}
if (!values['no-readme']) {
  const renderers = Object.fromEntries(SCENARIOS.filter((s) => s.markdown).map((s) => [s.name, (r: ScenarioResult) => s.markdown!(r)]));
  const ok = rewriteReadme(renderMarkdown(results, renderers, SCENARIOS.map((s) => s.name)));
  log(ok ? 'README: "## Benchmarks" section rewritten' : 'README: markers <!-- bench:start --> / <!-- bench:end --> not found; not rewritten');
}
log(`done in ${((performance.now() - started) / 60000).toFixed(1)} min; results in bench/results/`);
cleanup();
process.exit(failed ? 1 : 0);
