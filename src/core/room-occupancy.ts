/**
 * Whether a room has anyone online in it, and the `room.occupied` / `room.vacated` webhook
 * events when that changes (docs/protocol.md, "Presence webhooks"). The events are stored in the
 * room's own outbox, in the order of the room's occupancy `version` (one more per change), so a
 * receiver sees each room's events in order, at least once.
 *
 * Runtime-agnostic: storage and the outbox are injected.
 */
import type { KeyValueStore } from "./cached-store.ts";
import type { WebhookOutbox } from "./webhook-outbox.ts";

interface Occupancy {
  occupied: boolean;
  /** One more at every change; 0 before the first. */
  version: number;
}

const OCCUPANCY_KEY = "occupancy";

export class RoomOccupancy {
  private readonly storage: KeyValueStore;
  private readonly outbox: WebhookOutbox;

  constructor(storage: KeyValueStore, outbox: WebhookOutbox) {
    this.storage = storage;
    this.outbox = outbox;
  }

  /** The room now has `onlineCount` users online; records an event (true) when that crossed zero. */
  async update(groupName: string, onlineCount: number, now: number): Promise<boolean> {
    const before = (await this.storage.get<Occupancy>(OCCUPANCY_KEY)) ?? {
      occupied: false,
      version: 0,
    };
    const occupied = onlineCount > 0;
    if (occupied === before.occupied || groupName === "") return false;
    const version = before.version + 1;
    await this.storage.put<Occupancy>(OCCUPANCY_KEY, { occupied, version });
    await this.outbox.recordRoom(
      occupied ? "room.occupied" : "room.vacated",
      groupName,
      version,
      now,
    );
    return true;
  }
}
