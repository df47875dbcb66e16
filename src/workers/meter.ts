/**
 * The counters of the actors in this isolate (src/core/metrics.ts). One Meter per isolate:
 * every UserHub and RoomHub in it counts into it, and one of them (`flushAlarmFor`) has its
 * alarm hand the deltas to a PresenceShard after the flush interval, in one call. A socket
 * event never waits on it.
 */
import { loadConfig } from "../core/config.ts";
import { METRICS_FLUSH_MS, Meter } from "../core/metrics.ts";
import { shardName } from "../core/sharding.ts";

export const meter = new Meter();

/** The actor of this isolate whose alarm hands the deltas over, and the time it was asked for. */
let flusher: { actorId: string; at: number; claimedAt: number } | null = null;

/**
 * When the actor `actorId` must have its alarm for the meter's flush, or null when it need
 * not: one actor of the isolate keeps that alarm, not every actor that counted something (a
 * fan-out to 2,000 hubs would otherwise arm 2,000 alarms per flush). Another actor takes it
 * over when the holder's alarm is later than the flush is due, or is a flush interval overdue.
 */
export function flushAlarmFor(actorId: string, now: number): number | null {
  const due = meter.flushDueAt();
  if (due === null) return null;
  const held =
    flusher !== null &&
    flusher.actorId !== actorId &&
    flusher.at <= due &&
    now < Math.max(flusher.at, flusher.claimedAt) + METRICS_FLUSH_MS;
  if (held) return null;
  flusher = { actorId, at: due, claimedAt: now };
  return due;
}

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
