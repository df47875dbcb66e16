/**
 * Terminating a user's connections (docs/protocol.md, `DELETE /api/v1/users/{id}/connections`):
 * every socket of the user, the ones its UserHub holds and the room sockets leased to it, gets
 * an `error` frame carrying the operator's reason and is closed with 4003 `terminated`; with a
 * block, the user's upgrades are refused until the given time. The block is kept in the user's
 * actor storage, so it survives restarts, and is read at every upgrade of that user.
 */
import { encodeError } from "../protocol/codec.ts";
import { GatewayError } from "../protocol/errors.ts";
import type { KeyValueStore } from "./cached-store.ts";
import type { Lease } from "./leases.ts";

/** The message of the `error` frame sent before the close when the operator gave no reason. */
export const DEFAULT_TERMINATION_REASON = "connection terminated by an operator";

/** Storage key of the block: the time (ms since epoch) until which upgrades are refused. */
const BLOCK_KEY = "blocked_until";

export interface Termination {
  /** Shown to the user in the `error` frame before the close; null for the default. */
  reason: string | null;
  /** Refuse the user's upgrades until then (ms since epoch); null leaves any block as it is. */
  blockUntil: number | null;
}

/** What terminating needs from the user's actor. */
export interface TerminationTargets {
  store: KeyValueStore & { delete(key: string): Promise<boolean> };
  /** Send `frame` on each of the actor's own sockets and close it as terminated; resolves with how many. */
  closeOwn(frame: string): Promise<number>;
  /** Sockets of this user held by other actors (RoomHubs). */
  leases(): Lease[];
  /** Ask the RoomHub of `room` to send `frame` and close these sockets; resolves with how many it closed. */
  closeLeased(room: string, connectionIds: string[], frame: string): Promise<number>;
  /** Forget a lease whose socket was closed. */
  endLease(connectionId: string): Promise<void>;
}

/** The `error` frame a terminated socket receives just before its close. */
export function terminationFrame(reason: string | null): string {
  return encodeError(
    new GatewayError("forbidden", reason ?? DEFAULT_TERMINATION_REASON, {
      details: { reason: "terminated" },
    }),
  );
}

/**
 * Block first (an upgrade racing the termination is then refused), then close. A room that
 * cannot be reached leaves its sockets open: the call fails with `unavailable` and may be
 * retried, closing what is left.
 */
export async function terminateConnections(
  targets: TerminationTargets,
  termination: Termination,
): Promise<{ closed: number }> {
  if (termination.blockUntil !== null) await targets.store.put(BLOCK_KEY, termination.blockUntil);
  const frame = terminationFrame(termination.reason);
  let closed = await targets.closeOwn(frame);
  const byRoom = new Map<string, string[]>();
  for (const lease of targets.leases()) {
    byRoom.set(lease.room, [...(byRoom.get(lease.room) ?? []), lease.connectionId]);
  }
  const failures: string[] = [];
  await Promise.all(
    [...byRoom].map(async ([room, connectionIds]) => {
      try {
        // Not `closed += await …`: that reads `closed` before the await and loses concurrent sums.
        const closedInRoom = await targets.closeLeased(room, connectionIds, frame);
        closed += closedInRoom;
        for (const connectionId of connectionIds) await targets.endLease(connectionId);
      } catch (err) {
        failures.push(`${room}: ${String(err)}`);
      }
    }),
  );
  if (failures.length > 0) {
    throw new GatewayError("unavailable", "some room sockets could not be closed; retry", {
      details: { closed, rooms_failed: failures.length },
      retryAfterMs: 1_000,
    });
  }
  return { closed };
}

/** Until when this user's upgrades are refused (ms since epoch), or null; an expired block is removed. */
export async function blockedUntil(
  store: TerminationTargets["store"],
  now: number,
): Promise<number | null> {
  const until = await store.get<number>(BLOCK_KEY);
  if (until === undefined) return null;
  if (until > now) return until;
  await store.delete(BLOCK_KEY);
  return null;
}

/** The refusal of a blocked user's upgrade: 403 `forbidden` naming the end of the block. */
export function blockedError(until: number): GatewayError {
  const iso = new Date(until).toISOString();
  return new GatewayError("forbidden", `this user's connections are blocked until ${iso}`, {
    details: { reason: "blocked", blocked_until: iso },
  });
}
