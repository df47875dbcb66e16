// Runs every scenario against one running server, in an order that keeps the measurements
// apart: warmup (proves the server accepts sockets; a warmup whose messages went astray is
// noted, and the dm scenario then reports it as broken), the crowd (connect, idle, broadcast) on a fresh server
// so memory is measured before other scenarios leave garbage, then dm, the broadcast to users
// with one socket each, fan-out to room sockets, fanout (its members all close at once), and the
// presence storm (`only` runs just the steps it names, after the warmup). After each
// scenario the server must answer /health within a second, or the run counts as failed (the
// remaining scenarios still run once it answers again, up to 3 minutes later).

import type { ScenarioOutcomes } from "../report/model.ts";
import type { Integrity } from "./ledger.ts";
import { isClean } from "./ledger.ts";
import type { BenchParameters } from "./params.ts";
import type { Outcome, ScenarioContext } from "./scenario.ts";
import { sleep } from "./scenario.ts";
import { crowd } from "./scenarios/crowd.ts";
import { dm } from "./scenarios/dm.ts";
import { broadcastToUsers, fanout, fanoutRoom } from "./scenarios/fanout.ts";
import { storm } from "./scenarios/storm.ts";
import { warmup } from "./scenarios/warmup.ts";

const BETWEEN_SCENARIOS_MS = 1_000;

/** The steps `--only` selects, in the order they run; `crowd` measures connect, idle and broadcast. */
export const STEPS = ["crowd", "dm", "broadcastUsers", "fanoutRoom", "fanout", "storm"] as const;
type Step = (typeof STEPS)[number];

/** The step that measures each scenario of the report. */
const STEP_OF: Record<keyof ScenarioOutcomes, Step> = {
  connect: "crowd",
  idle: "crowd",
  broadcast: "crowd",
  dm: "dm",
  broadcastUsers: "broadcastUsers",
  fanoutRoom: "fanoutRoom",
  fanout: "fanout",
  storm: "storm",
};
/** After every scenario the server must answer `GET /health` within this, in milliseconds. */
const HEALTH_WITHIN_MS = 1_000;
/** How long a server that missed that check may take to answer again before the run stops. */
const RECOVERY_MS = 180_000;

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
      /** What the scenarios measured (those after an unrecovered failure: failed, not run). */
      readonly scenarios?: ScenarioOutcomes;
    };

export async function measureServer(
  context: ScenarioContext,
  parameters: BenchParameters,
  only?: readonly string[],
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
  const notRun: Outcome<never> = { status: "failed", reason: "not run: /health never answered" };
  const scenarios: ScenarioOutcomes = {
    connect: notRun,
    idle: notRun,
    broadcast: notRun,
    dm: notRun,
    fanout: notRun,
    fanoutRoom: notRun,
    broadcastUsers: notRun,
    storm: notRun,
  };
  // What each step measured, merged into `scenarios` as it ends.
  const steps: Record<Step, () => Promise<Partial<ScenarioOutcomes>>> = {
    crowd: () => crowd(context, parameters),
    dm: async () => ({ dm: await dm(context, parameters) }),
    broadcastUsers: async () => ({ broadcastUsers: await broadcastToUsers(context, parameters) }),
    fanoutRoom: async () => ({ fanoutRoom: await fanoutRoom(context, parameters) }),
    fanout: async () => ({ fanout: await fanout(context, parameters) }),
    storm: async () => ({ storm: await storm(context, parameters) }),
  };
  const selected = (step: string) => only === undefined || only.includes(step);
  if (only !== undefined) {
    const skipped = { status: "n/a", reason: "not selected (--only)" } as const;
    for (const name of Object.keys(scenarios) as (keyof ScenarioOutcomes)[]) {
      if (!selected(STEP_OF[name])) scenarios[name] = skipped;
    }
  }
  const failures: string[] = [];
  for (const name of STEPS.filter(selected)) {
    await sleep(BETWEEN_SCENARIOS_MS);
    Object.assign(scenarios, await steps[name]());
    const unhealthy = await healthAfter(context, name);
    if (unhealthy === null) continue;
    // The run has failed; the next scenarios still run once the server answers again, so
    // the report shows how long it was gone and what the rest measured.
    failures.push(unhealthy);
    const recovered = await recovery(context);
    if (recovered === null) {
      failures.push(`no /health answer within ${RECOVERY_MS / 1000} s after ${name}`);
      break;
    }
    failures[failures.length - 1] += `; it answered again ${(recovered / 1000).toFixed(1)} s later`;
  }
  return failures.length === 0
    ? { ok: true, warmup: warm, scenarios }
    : { ok: false, warmup: warm, reason: failures.join("; "), scenarios };
}

/** Milliseconds until `GET /health` answers 200 again, or null past RECOVERY_MS. */
async function recovery(context: ScenarioContext): Promise<number | null> {
  const started = performance.now();
  while (performance.now() - started < RECOVERY_MS) {
    try {
      const response = await fetch(`${context.httpBase}/health`, {
        signal: AbortSignal.timeout(5_000),
      });
      await response.body?.cancel();
      if (response.ok) return performance.now() - started;
    } catch {
      // Not answering yet.
    }
    await sleep(1_000);
  }
  return null;
}
