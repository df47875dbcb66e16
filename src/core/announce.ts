/**
 * When a user flips online or offline, every member of every group and consultation that
 * user is in hears it, once per socket however many groups they share (docs/protocol.md, "Who
 * receives status_changed"). The user's actor makes one call per room; each room tells its
 * members in batches (room-presence.ts), and a member's actor drops a flip a socket already
 * heard through another room (StatusMemory).
 */
import type { StatusChanged } from "../protocol/messages.ts";
import { mapBounded } from "./bounded.ts";

/** Concurrent room calls per announcement. */
const CONCURRENCY = 32;

/** One call per room the user is in; resolves with the number of rooms told. */
export async function announceToRooms(
  groups: readonly string[],
  status: StatusChanged,
  announce: (group: string, status: StatusChanged) => Promise<void>,
): Promise<number> {
  const rooms = [...new Set(groups)];
  await mapBounded(rooms, CONCURRENCY, (group) => announce(group, status));
  return rooms.length;
}

/** Flips remembered per member actor: enough for a storm's worth of co-members. */
const REMEMBERED_FLIPS = 4_096;

/**
 * The flips each socket of one user was already told, so that a flip arriving from a second
 * shared room is not told twice. In memory: after an eviction a socket may hear a flip again,
 * which the protocol tolerates (a status_changed is idempotent).
 */
export class StatusMemory {
  private readonly told = new Map<string, Set<string>>();
  private readonly capacity: number;

  constructor(capacity = REMEMBERED_FLIPS) {
    this.capacity = capacity;
  }

  /** True the first time `connectionId` is offered this flip; remembers it. */
  firstTime(status: StatusChanged, connectionId: string): boolean {
    const key = `${status.user_id}\n${status.is_online}\n${status.last_seen ?? ""}`;
    let sockets = this.told.get(key);
    if (sockets?.has(connectionId)) return false;
    if (sockets === undefined) {
      sockets = new Set();
      this.told.set(key, sockets);
      // Oldest first (a Map keeps insertion order).
      if (this.told.size > this.capacity) {
        const oldest = this.told.keys().next().value;
        if (oldest !== undefined) this.told.delete(oldest);
      }
    }
    sockets.add(connectionId);
    return true;
  }
}
