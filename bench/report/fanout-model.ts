// The capacity model of docs/scale.md checked in the bench: the fan-out tree the gateway runs
// (src/core/fanout-tree.ts `simulateFanout`: in-memory actors that count their calls) against the model's
// call counts, on a few thousand users; and the model's calls for the measured fan-out.
import { simulateFanout, treeShape } from "../../src/core/fanout-tree.ts";

export interface ModelCheck {
  readonly recipients: number;
  readonly maxCalls: number;
  readonly modelCalls: number;
  readonly simulatedCalls: number;
  readonly modelShards: number;
  readonly simulatedShards: number;
  readonly shardLevels: number;
  readonly busiestActorCalls: number;
  /** Every recipient reached exactly once, no actor over the bound, counts as modelled. */
  readonly agrees: boolean;
}

/** FANOUT_MAX_CALLS_PER_MESSAGE when the run does not set it (src/core/config.ts). */
export const DEFAULT_FANOUT_MAX_CALLS = 500;

const CASES: ReadonlyArray<readonly [number, number]> = [
  [2_000, 500],
  [5_000, 500],
  [5_000, 40],
  [3_000, 7],
];

async function check(recipients: number, maxCalls: number): Promise<ModelCheck> {
  const { result, callsByActor, deliveriesToUser } = await simulateFanout(recipients, maxCalls);
  const shape = treeShape(recipients, maxCalls);
  const calls = [...callsByActor.values()];
  const simulatedCalls = calls.reduce((a, b) => a + b, 0);
  const busiestActorCalls = Math.max(...calls);
  const simulatedShards = callsByActor.size - 1;
  const agrees =
    result.reached === recipients &&
    deliveriesToUser.size === recipients &&
    [...deliveriesToUser.values()].every((n) => n === 1) &&
    busiestActorCalls <= maxCalls &&
    simulatedCalls === shape.calls &&
    simulatedShards === shape.shards;
  return {
    recipients,
    maxCalls,
    modelCalls: shape.calls,
    simulatedCalls,
    modelShards: shape.shards,
    simulatedShards,
    shardLevels: shape.shardLevels,
    busiestActorCalls,
    agrees,
  };
}

export function checkFanoutModel(): Promise<ModelCheck[]> {
  return Promise.all(CASES.map(([n, cap]) => check(n, cap)));
}

/** Actor calls the model expects for one group message to `members` (the publish included). */
export function modelGroupCalls(members: number, maxCalls: number): number {
  return 1 + treeShape(members, maxCalls).calls;
}
