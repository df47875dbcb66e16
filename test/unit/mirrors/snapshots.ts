import type { PresenceSnapshot } from "../../../src/mirrors/types.ts";

/** A presence snapshot with sensible defaults: online with the given connection ids. */
export function snapshot(
  userId: string,
  version: number,
  overrides: Partial<PresenceSnapshot> = {},
): PresenceSnapshot {
  const connectionIds = overrides.connectionIds ?? (overrides.isOnline === false ? [] : ["c1"]);
  return {
    userId,
    isOnline: connectionIds.length > 0,
    connectionIds,
    connectionCount: connectionIds.length,
    lastSeen: null,
    version,
    username: `user-${userId}`,
    isStaff: false,
    isSuperuser: false,
    ...overrides,
  };
}

export function offline(userId: string, version: number, lastSeen: string): PresenceSnapshot {
  return snapshot(userId, version, { isOnline: false, connectionIds: [], lastSeen });
}
