/**
 * The counters of the actors in this isolate (src/core/metrics.ts). One Meter per isolate:
 * every UserHub and RoomHub in it counts into it, and whichever of their alarms comes first
 * after the flush interval hands the deltas to a PresenceShard, in one call. A socket event
 * never waits on it; an actor with deltas pending only makes sure its alarm is due by then.
 */
import { loadConfig } from "../core/config.ts";
import { Meter } from "../core/metrics.ts";
import { shardName } from "../core/sharding.ts";

export const meter = new Meter();

/** Hand the pending deltas to a PresenceShard, if they are due; kept for the next try on failure. */
export async function flushMeter(env: Env, label: string): Promise<void> {
  const deltas = meter.drain(Date.now());
  if (deltas === null) return;
  // Any shard will do (a scrape sums them all); a random one spreads the reports.
  const index = Math.floor(Math.random() * loadConfig(env).presenceShards);
  try {
    await env.PRESENCE_SHARD.getByName(shardName(index)).report(deltas);
  } catch (err) {
    meter.restore(deltas);
    console.warn(`${label}:flushMeter: report to shard ${index} failed: ${String(err)}`);
  }
}
