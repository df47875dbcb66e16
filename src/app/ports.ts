/**
 * What the application's operations need from the world, and nothing more: the actors they
 * call, a clock and an id source. The Workers runtime provides them through `actorsFromEnv`
 * (src/workers/actors-from-env.ts); unit tests through an in-memory twin.
 */
import type { Delivery, DeliveryResult } from "../core/delivery.ts";
import type { RoomReplay, RoomSince } from "../core/room-history.ts";
import type { NotificationMessage } from "../protocol/messages.ts";

/** A user's actor (UserHub), as an operation reaches it. */
export interface UserActor {
  notify(notification: NotificationMessage): Promise<DeliveryResult>;
  deliver(delivery: Delivery): Promise<DeliveryResult>;
  /** Whether the gateway knows this user (has seen them, or the application's table has them). */
  exists(): Promise<boolean>;
  status(): Promise<{ is_online: boolean; connection_count: number; last_seen: string | null }>;
}

/** A presence shard's actor. */
export interface ShardActor {
  online(): Promise<{ user_id: string; connection_count: number }[]>;
  /** Deliver to every online user of the shard; resolves with the number of users reached. */
  broadcast(delivery: Delivery): Promise<number>;
}

/** A message sent to a group: from a socket (`message`) or from server code (`data`). */
export interface RoomPublish {
  messageId: string;
  /** null when server code (not a user) sends it. */
  fromUserId: string | null;
  messageType: string;
  message?: string;
  data?: unknown;
  sentAt: string;
}

/** A socket joined a room: the member count, and the room's messages after `since`. */
export interface RoomJoined {
  memberCount: number;
  history: RoomReplay;
}

/** A group's actor (RoomHub). */
export interface RoomActor {
  publish(message: RoomPublish): Promise<{ recipients: number }>;
  /**
   * Add a user's socket to the room's members; resolves with the member count and, with
   * `since`, the messages stored after it (without it, only the room's position).
   */
  join(userId: string, connectionId: string, since?: RoomSince): Promise<RoomJoined>;
  /** Remove a user's socket from the room's members; resolves with the member count. */
  leave(userId: string, connectionId: string): Promise<number>;
}

export interface Actors {
  user(userId: string): UserActor;
  shard(index: number): ShardActor;
  /** The RoomHub of a group, or null while this deployment has no ROOM_HUB binding. */
  room(groupName: string): RoomActor | null;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export interface Ids {
  /** A new message or notification id. */
  newId(): string;
}

/** Everything an operation is given. */
export interface AppContext {
  actors: Actors;
  clock: Clock;
  ids: Ids;
}

/** The runtime's clock and ids: `Date.now` and random UUIDs. */
export const SYSTEM_CLOCK: Clock = { now: () => Date.now() };
export const RANDOM_IDS: Ids = { newId: () => crypto.randomUUID() };
