// Runs every scenario against one running server, in an order that keeps the measurements
// apart: warmup (proves the server accepts sockets; a warmup whose messages went astray is
// noted, and the dm scenario then reports it as broken), the crowd (connect, idle, broadcast) on a fresh server
// so memory is measured before other scenarios leave garbage, then dm, then fanout.

import type { ScenarioOutcomes } from "../report/model.ts";
import type { Integrity } from "./ledger.ts";
import { isClean } from "./ledger.ts";
import type { BenchParameters } from "./params.ts";
import type { ScenarioContext } from "./scenario.ts";
import { sleep } from "./scenario.ts";
import { crowd } from "./scenarios/crowd.ts";
import { dm } from "./scenarios/dm.ts";
import { fanout } from "./scenarios/fanout.ts";
import { warmup } from "./scenarios/warmup.ts";

const BETWEEN_SCENARIOS_MS = 1_000;

export type MeasureResult =
  | { readonly ok: true; readonly warmup: Integrity; readonly scenarios: ScenarioOutcomes }
  | { readonly ok: false; readonly warmup: Integrity; readonly reason: string };

export async function measureServer(
  context: ScenarioContext,
  parameters: BenchParameters,
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
  const crowdOutcomes = await crowd(context, parameters);
  await sleep(BETWEEN_SCENARIOS_MS);
  const dmOutcome = await dm(context, parameters);
  await sleep(BETWEEN_SCENARIOS_MS);
  const fanoutOutcome = await fanout(context, parameters);
  return {
    ok: true,
    warmup: warm,
    scenarios: {
      connect: crowdOutcomes.connect,
      idle: crowdOutcomes.idle,
      broadcast: crowdOutcomes.broadcast,
      dm: dmOutcome,
      fanout: fanoutOutcome,
    },
  };
}
