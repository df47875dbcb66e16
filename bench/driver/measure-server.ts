// Runs every scenario against one running server, in an order that keeps the measurements
// apart: warmup (proves the server accepts sockets; a warmup whose messages went astray is
// noted, and the dm scenario then reports it as broken), the crowd (connect, idle, broadcast) on a fresh server
// so memory is measured before other scenarios leave garbage, then dm, the broadcast to users
// with one socket each, and fanout (last: its members all close at once). After each
// scenario the server must answer /health within a second, or the run counts as failed.

import type { ScenarioOutcomes } from "../report/model.ts";
import type { Integrity } from "./ledger.ts";
import { isClean } from "./ledger.ts";
import type { BenchParameters } from "./params.ts";
import type { Outcome, ScenarioContext } from "./scenario.ts";
import { sleep } from "./scenario.ts";
import { crowd } from "./scenarios/crowd.ts";
import { dm } from "./scenarios/dm.ts";
import { broadcastToUsers, fanout } from "./scenarios/fanout.ts";
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
  | {
      readonly ok: false;
      readonly warmup: Integrity;
      readonly reason: string;
      /** The scenarios run before the failure (the others: failed, not run). */
      readonly scenarios?: ScenarioOutcomes;
    };

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
  // Filled as the scenarios run; a server that stops answering /health keeps what it did.
  const notRun: Outcome<never> = { status: "failed", reason: "not run: /health failed before" };
  const scenarios: ScenarioOutcomes = {
    connect: notRun,
    idle: notRun,
    broadcast: notRun,
    dm: notRun,
    fanout: notRun,
    broadcastUsers: notRun,
  };
  const steps: Array<[string, () => Promise<void>]> = [
    [
      "crowd",
      async () => {
        Object.assign(scenarios, await crowd(context, parameters));
      },
    ],
    [
      "dm",
      async () => {
        scenarios.dm = await dm(context, parameters);
      },
    ],
    [
      "broadcastUsers",
      async () => {
        scenarios.broadcastUsers = await broadcastToUsers(context, parameters);
      },
    ],
    [
      "fanout",
      async () => {
        scenarios.fanout = await fanout(context, parameters);
      },
    ],
  ];
  for (const [name, run] of steps) {
    await sleep(BETWEEN_SCENARIOS_MS);
    await run();
    const unhealthy = await healthAfter(context, name);
    if (unhealthy !== null) return { ok: false, warmup: warm, reason: unhealthy, scenarios };
  }
  return { ok: true, warmup: warm, scenarios };
}
