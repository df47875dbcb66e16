// Runs every scenario against one running server, in an order that keeps the measurements
// apart: warmup (proves the server accepts sockets; a warmup whose messages went astray is
// noted, and the dm scenario then reports it as broken), the crowd (connect, idle, broadcast) on a fresh server
// so memory is measured before other scenarios leave garbage, then dm, then fanout, then the
// presence storm (last: it leaves the most work behind). `only` runs just the storm. After each
// scenario the server must answer /health within a second, or the run counts as failed.

import type { ScenarioOutcomes } from "../report/model.ts";
import type { Integrity } from "./ledger.ts";
import { isClean } from "./ledger.ts";
import type { BenchParameters } from "./params.ts";
import type { ScenarioContext } from "./scenario.ts";
import { sleep } from "./scenario.ts";
import { crowd } from "./scenarios/crowd.ts";
import { dm } from "./scenarios/dm.ts";
import { fanout } from "./scenarios/fanout.ts";
import { storm } from "./scenarios/storm.ts";
import { warmup } from "./scenarios/warmup.ts";

const BETWEEN_SCENARIOS_MS = 1_000;
/** After every scenario the server must answer `GET /health` within this, in milliseconds. */
const HEALTH_WITHIN_MS = 1_000;

/** null when the server answered /health in time, else why not. */
async function healthAfter(context: ScenarioContext, scenario: string): Promise<string | null> {
  const started = performance.now();
  try {
    const response = await fetch(`${context.httpBase}/health`, {
      signal: AbortSignal.timeout(HEALTH_WITHIN_MS),
    });
    await response.body?.cancel();
    const ms = Math.round(performance.now() - started);
    context.log(`after ${scenario}: /health ${response.status} in ${ms} ms`);
    return response.ok ? null : `after ${scenario}: /health answered ${response.status}`;
  } catch (error) {
    return `after ${scenario}: /health did not answer within ${HEALTH_WITHIN_MS} ms (${(error as Error).name})`;
  }
}

export type MeasureResult =
  | { readonly ok: true; readonly warmup: Integrity; readonly scenarios: ScenarioOutcomes }
  | { readonly ok: false; readonly warmup: Integrity; readonly reason: string };

const NOT_RUN = { status: "n/a", reason: "not selected (--only)" } as const;

export async function measureServer(
  context: ScenarioContext,
  parameters: BenchParameters,
  only?: "storm",
): Promise<MeasureResult> {
  context.log("warmup");
  const warm = await warmup(context, parameters);
  if (!isClean(warm)) {
    const summary = warm.samples.slice(0, 3).join("; ");
    if (warm.samples.some((s) => s.startsWith("connect "))) {
      return { ok: false, warmup: warm, reason: `warmup could not connect: ${summary}` };
    }
    context.log(`warmup NOT clean (continuing, the scenarios will show it): ${summary}`);
  }
  await sleep(BETWEEN_SCENARIOS_MS);
  let earlier: Omit<ScenarioOutcomes, "storm"> = {
    connect: NOT_RUN,
    idle: NOT_RUN,
    broadcast: NOT_RUN,
    dm: NOT_RUN,
    fanout: NOT_RUN,
  };
  if (only !== "storm") {
    const crowdOutcomes = await crowd(context, parameters);
    const afterCrowd = await healthAfter(context, "crowd");
    if (afterCrowd !== null) return { ok: false, warmup: warm, reason: afterCrowd };
    await sleep(BETWEEN_SCENARIOS_MS);
    const dmOutcome = await dm(context, parameters);
    const afterDm = await healthAfter(context, "dm");
    if (afterDm !== null) return { ok: false, warmup: warm, reason: afterDm };
    await sleep(BETWEEN_SCENARIOS_MS);
    const fanoutOutcome = await fanout(context, parameters);
    const afterFanout = await healthAfter(context, "fanout");
    if (afterFanout !== null) return { ok: false, warmup: warm, reason: afterFanout };
    await sleep(BETWEEN_SCENARIOS_MS);
    earlier = {
      connect: crowdOutcomes.connect,
      idle: crowdOutcomes.idle,
      broadcast: crowdOutcomes.broadcast,
      dm: dmOutcome,
      fanout: fanoutOutcome,
    };
  }
  const stormOutcome = await storm(context, parameters);
  const afterStorm = await healthAfter(context, "storm");
  if (afterStorm !== null) return { ok: false, warmup: warm, reason: afterStorm };
  return { ok: true, warmup: warm, scenarios: { ...earlier, storm: stormOutcome } };
}
