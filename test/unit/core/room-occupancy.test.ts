import { describe, expect, it } from "vitest";
import type { WebhookEventType } from "../../../src/core/config.ts";
import { RoomOccupancy } from "../../../src/core/room-occupancy.ts";
import { type WebhookEvent, WebhookOutbox } from "../../../src/core/webhook-outbox.ts";
import { memoryStorage } from "../helpers/storage.ts";

const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);

function room(types: WebhookEventType[] = ["room.occupied", "room.vacated"]) {
  const storage = memoryStorage();
  const clock = { now: T0 };
  const sent: WebhookEvent[] = [];
  let ids = 0;
  const outbox = new WebhookOutbox({
    storage,
    send: async (events) => void sent.push(...events),
    types,
    maxAgeMs: 86_400_000,
    now: () => clock.now,
    newId: () => `evt-${++ids}`,
  });
  const occupancy = new RoomOccupancy(storage, outbox);
  const deliver = async () => {
    clock.now += 1_000;
    await outbox.flush();
  };
  return { storage, outbox, occupancy, sent, deliver, clock };
}

describe("RoomOccupancy", () => {
  it("records room.occupied at the first online member and room.vacated when none is left", async () => {
    const { occupancy, sent, deliver } = room();
    expect(await occupancy.update("group_a", 1, T0)).toBe(true);
    expect(await occupancy.update("group_a", 2, T0 + 1)).toBe(false);
    expect(await occupancy.update("group_a", 1, T0 + 2)).toBe(false);
    expect(await occupancy.update("group_a", 0, T0 + 3)).toBe(true);
    expect(await occupancy.update("group_a", 0, T0 + 4)).toBe(false);
    await deliver();
    expect(sent).toEqual([
      {
        id: "evt-1",
        type: "room.occupied",
        group_name: "group_a",
        version: 1,
        occurred_at: new Date(T0).toISOString(),
      },
      {
        id: "evt-2",
        type: "room.vacated",
        group_name: "group_a",
        version: 2,
        occurred_at: new Date(T0 + 3).toISOString(),
      },
    ]);
  });

  it("keeps counting versions across a new instance (an evicted room)", async () => {
    const { storage, outbox, occupancy, sent, deliver } = room();
    await occupancy.update("group_a", 1, T0);
    await occupancy.update("group_a", 0, T0);
    const again = new RoomOccupancy(storage, outbox);
    await again.update("group_a", 3, T0);
    await deliver();
    expect(sent.map((e) => [e.type, e.version])).toEqual([
      ["room.occupied", 1],
      ["room.vacated", 2],
      ["room.occupied", 3],
    ]);
  });

  it("sends only the configured room types", async () => {
    const { occupancy, sent, deliver } = room(["room.vacated"]);
    await occupancy.update("group_a", 1, T0);
    await occupancy.update("group_a", 0, T0);
    await deliver();
    expect(sent.map((e) => [e.type, e.version])).toEqual([["room.vacated", 2]]);
  });
});
