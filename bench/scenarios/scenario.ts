// The scenario contract: bench/run.ts runs the selected scenarios in order and writes each result.
import type { BenchContext, ScenarioResult, Target } from '../lib/context.ts';
import type { UpstreamKind } from '../lib/upstreams.ts';

export interface Shared {
  /** The upstream kind the "upstream" scenario found fastest (nginx when unmeasured and available). */
  upstreamKind: UpstreamKind;
}

export interface Scenario {
  readonly name: string;
  readonly title: string;
  run(ctx: BenchContext, shared: Shared): Promise<ScenarioResult>;
  /** The README table for a stored result of this scenario. */
  markdown?(r: ScenarioResult): string;
}

export function result(
  ctx: BenchContext,
  scenario: string,
  fields: { status: ScenarioResult['status']; note?: string; settings?: Record<string, unknown>; data?: unknown; targets?: readonly Target[] },
): ScenarioResult {
  return {
    scenario,
    status: fields.status,
    ...(fields.note ? { note: fields.note } : {}),
    finishedAt: new Date().toISOString(),
    quick: ctx.quick,
    machine: ctx.machine,
    settings: fields.settings ?? {},
    data: fields.data ?? null,
    targets: fields.targets ?? [],
  };
}

/** "0.62x" style formatting for ratios; "n/a" for NaN. */
export function x(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : 'n/a';
}

/** A target check: pass is null (not measured) when `value` is NaN. */
export function check(name: string, goal: string, value: number, ok: (v: number) => boolean, show: (v: number) => string = x): Target {
  if (!Number.isFinite(value)) return { name, goal, measured: null, pass: null };
  return { name, goal, measured: show(value), pass: ok(value) };
}
