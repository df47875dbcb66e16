/**
 * What the application's operations need from the world, and nothing more: the actors they
 * call, a clock and an id source. The Workers runtime provides them through `appFromEnv`
 * (src/workers/actors-from-env.ts); unit tests through an in-memory twin.
 */
import type { Delivery, DeliveryResult } from "../core/delivery.ts";
import type { RoomReplay, RoomSince } from "../core/room-history.ts";
import type { Termination } from "../core/termination.ts";
import type { NotificationMessage } from "../protocol/messages.ts";

/** A user's actor (UserHub), as an operation reaches it. */
export interface UserActor {
  notify(notification: NotificationMessage): Promise<DeliveryResult>;
  deliver(delivery: Delivery): Promise<DeliveryResult>;
  /** Whether the gateway knows this user (has seen them, or the application's table has them). */
  exists(): Promise<boolean>;
  status(): Promise<{ is_online: boolean; connection_count: number; last_seen: string | null }>;
  /** Close every socket of the user as terminated; resolves with how many closed. */
  terminate(termination: Termination): Promise<{ closed: number }>;
  /** Sockets, groups, presence and mailbox size, for operators. */
  details(): Promise<UserDetails>;
}

/** One socket of a user, as an operator sees it. */
export interface UserSocketDetails {
  connection_id: string;
  /**
   * `user`: a /ws/user/ socket; `room`: a room socket (/ws/group/{name}/ or a consultation
   * socket) that the room's actor holds.
   */
  kind: "user" | "room";
  /** ISO time, or null for a room socket. */
  connected_at: string | null;
  groups: string[];
}

export interface UserDetails {
  /** "" when the hub never saw a socket of this user. */
  user_id: string;
  username: string | null;
  is_online: boolean;
  connection_count: number;
  last_seen: string | null;
  sockets: UserSocketDetails[];
  groups: string[];
  mailbox: { messages: number; notifications: number; last_seq: number };
}

/** A presence shard's actor. */
export interface ShardActor {
  online(): Promise<{ user_id: string; connection_count: number }[]>;
  /** Deliver to every online user of the shard; resolves with the number of users reached. */
  broadcast(delivery: Delivery): Promise<number>;
}

/**
 * A message to a room, which stores it once (for the room's own sockets to resume) and fans it
 * out: a `group_message` from a member's socket or from server code (which sends `data`, and no
 * user: `fromUserId` null), or a `consultation_message` from a participant's consultation socket.
 */
export type RoomPublish =
  | {
      type: "group_message";
      messageId: string;
      fromUserId: string | null;
      messageType: string;
      message?: string;
      data?: unknown;
      sentAt: string;
    }
  | {
      type: "consultation_message";
      messageId: string;
      fromUserId: string;
      fromUsername: string;
      message: string;
      sentAt: string;
    };

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

/** The actor directory: how an operation reaches a user, a presence shard or a room. */
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
