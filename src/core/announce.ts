/**
 * When a user flips online or offline, every member of every group and consultation that
 * user is in hears it, once per socket however many groups they share (docs/protocol.md, "Who
 * receives status_changed").
 */
import type { StatusChanged } from "../protocol/messages.ts";
import { mapBounded } from "./bounded.ts";

export interface RoomsAndCoMembers {
  /** Tell a room; it answers its other members' user ids. */
  announce(groupName: string, status: StatusChanged): Promise<string[]>;
  /** Tell one co-member's sockets that joined any of `groups`. */
  push(userId: string, status: StatusChanged, groups: string[]): Promise<void>;
}

/** Concurrent room and co-member calls per announcement. */
const CONCURRENCY = 32;

export async function announceToCoMembers(
  groups: readonly string[],
  status: StatusChanged,
  reach: RoomsAndCoMembers,
): Promise<number> {
  const shared = new Map<string, Set<string>>();
  await mapBounded([...new Set(groups)], CONCURRENCY, async (group) => {
    for (const userId of await reach.announce(group, status)) {
      if (userId === status.user_id) continue;
      const set = shared.get(userId) ?? new Set<string>();
      set.add(group);
      shared.set(userId, set);
    }
  });
  await mapBounded([...shared], CONCURRENCY, ([userId, set]) =>
    reach.push(userId, status, [...set]),
  );
  return shared.size;
}
