/**
 * Presence rules: when a user flips online or offline. Pure functions over a small state
 * that the UserHub keeps in its storage; time is passed in.
 *
 * A user flips online with the first connection and offline when the last one has been gone
 * for the grace period (so a page reload does not flap the status). `version` advances on
 * every change the mirrors must see, so a mirror can refuse an older write after a newer one.
 */

export interface PresenceState {
  isOnline: boolean;
  /** Advances on every mirrored change (connection set or flip); see nextVersion. */
  version: number;
  /** When the user was last seen going offline (ISO), null if never. */
  lastSeen: string | null;
  /** When the pending offline flip happens (ms since epoch), or null. */
  offlineAt: number | null;
}

export type Flip = "online" | "offline" | null;

export const INITIAL_PRESENCE: PresenceState = {
  isOnline: false,
  version: 0,
  lastSeen: null,
  offlineAt: null,
};

/**
 * The version of the next change: past the last one and not below the clock (milliseconds).
 * A mirror may have seen a version whose state was never stored (the actor died between
 * telling the mirror and its storage commit); going by the clock, the next version is still
 * newer than that one, so the mirror does not refuse it.
 */
export function nextVersion(state: PresenceState, now: number): number {
  return Math.max(state.version + 1, now);
}

function flipOffline(state: PresenceState, now: number): PresenceState {
  return {
    isOnline: false,
    version: nextVersion(state, now),
    lastSeen: new Date(now).toISOString(),
    offlineAt: null,
  };
}

/** The connection count changed to `count`. */
export function connectionsChanged(
  state: PresenceState,
  count: number,
  now: number,
  graceMs: number,
): { state: PresenceState; flip: Flip } {
  const version = nextVersion(state, now);
  if (count > 0) {
    // A reconnect inside the grace period cancels the pending flip and flips nothing.
    return {
      state: { ...state, isOnline: true, version, offlineAt: null },
      flip: state.isOnline ? null : "online",
    };
  }
  if (!state.isOnline) return { state: { ...state, version, offlineAt: null }, flip: null };
  if (graceMs <= 0) return { state: flipOffline(state, now), flip: "offline" };
  return { state: { ...state, version, offlineAt: state.offlineAt ?? now + graceMs }, flip: null };
}

/** The alarm fired: flip offline if the grace period is over and nobody came back. */
export function graceElapsed(
  state: PresenceState,
  count: number,
  now: number,
): { state: PresenceState; flip: Flip } {
  if (state.offlineAt === null || now < state.offlineAt) return { state, flip: null };
  if (count > 0) return { state: { ...state, offlineAt: null }, flip: null };
  return { state: flipOffline(state, now), flip: "offline" };
}

/**
 * The actor started with no connection while its state says online and no offline flip is
 * pending: a socket that closes always leaves a pending flip (or flips), so these sockets died
 * with the process that held them (kill -9, a machine restart) and no close event will ever
 * come. Flip offline at once: how long ago they died is unknown, so a grace period would only
 * stretch a false "online"; clients that come back flip online again.
 */
export function socketsLost(
  state: PresenceState,
  count: number,
  now: number,
): { state: PresenceState; flip: Flip } {
  if (count > 0 || !state.isOnline || state.offlineAt !== null) return { state, flip: null };
  return { state: flipOffline(state, now), flip: "offline" };
}

/** What the mirrors are told: the user's presence as the actor sees it right now. */
export interface PresenceSnapshot {
  userId: string;
  isOnline: boolean;
  connectionIds: string[];
  connectionCount: number;
  lastSeen: string | null;
  version: number;
  username?: string;
  isStaff?: boolean;
  isSuperuser?: boolean;
}
