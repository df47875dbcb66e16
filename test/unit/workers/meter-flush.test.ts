/**
 * Which actor arms its alarm for the isolate's meter flush (src/workers/meter.ts): one at a
 * time, so a fan-out to many hubs does not arm one alarm per hub.
 */
import { describe, expect, it } from "vitest";
import { METRICS_FLUSH_MS } from "../../../src/core/metrics.ts";
import { encodeFrame } from "../../../src/protocol/codec.ts";
import { flushAlarmFor, meter } from "../../../src/workers/meter.ts";

describe("the meter's flush alarm", () => {
  it("is armed by one actor; others arm it only once the holder is a flush interval overdue", () => {
    const start = Date.now() + 60 * 60_000;
    meter.frameSent(encodeFrame("pong", { server_time: "t" }));
    meter.drain(start);
    expect(flushAlarmFor("hub-a", start)).toBeNull();
    meter.frameSent(encodeFrame("pong", { server_time: "t" }), 3);
    const due = meter.flushDueAt();
    expect(due).toBe(start + METRICS_FLUSH_MS);
    expect(flushAlarmFor("hub-a", start)).toBe(due);
    expect(flushAlarmFor("hub-b", start + 1)).toBeNull();
    expect(flushAlarmFor("hub-c", start + 2)).toBeNull();
    // The holder keeps its alarm when asked again.
    expect(flushAlarmFor("hub-a", start + 3)).toBe(due);
    // Its alarm never came (evicted, failed to set): another actor takes the flush over.
    const overdue = (due ?? 0) + METRICS_FLUSH_MS;
    expect(flushAlarmFor("hub-b", overdue)).toBe(due);
    expect(flushAlarmFor("hub-a", overdue + 1)).toBeNull();
    expect(meter.drain(overdue)).toEqual({ "sent:pong": 3 });
  });
});
