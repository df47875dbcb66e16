/**
 * The server-side operations: notify a user, message a user, broadcast, publish to a group, a
 * user's status, the online users. One implementation behind two front doors: the HTTP API
 * (index.ts) and the RealtimeService entrypoint (src/workers/realtime-service.ts). Both parse their input before
 * calling here; both decide who the sender is (auth.ts).
 *
 * The actors are reached through `GatewayPorts`, so the operations run in Node tests against an
 * in-memory twin; `actorsFromEnv` (src/workers/actors-from-env.ts) is the real wiring.
 */
import { broadcastToShards } from "../../core/broadcast.ts";
import type { Config } from "../../core/config.ts";
import { type Delivery, type DeliveryResult, newDelivery } from "../../core/delivery.ts";
import { validateGroupName } from "../../core/groups.ts";
import { GatewayError } from "../../protocol/errors.ts";
import type { NotificationMessage } from "../../protocol/messages.ts";
import type {
  DirectMessageResult,
  FanoutResult,
  NotificationResult,
  OnlineUsersResult,
  UserStatusResult,
} from "./schemas.ts";

/** What a UserHub offers the API. */
export interface UserPort {
  notify(notification: NotificationMessage): Promise<DeliveryResult>;
  deliver(delivery: Delivery): Promise<DeliveryResult>;
  exists(): Promise<boolean>;
  status(): Promise<{ is_online: boolean; connection_count: number; last_seen: string | null }>;
}

/** What a PresenceShard offers the API. */
export interface ShardPort {
  online(): Promise<{ user_id: string; connection_count: number }[]>;
  broadcast(delivery: Delivery): Promise<number>;
}

/** A group message from the API, as the RoomHub publishes it to the group's members. */
export interface RoomPublish {
  messageId: string;
  /** null when server code (not a user) sends it. */
  fromUserId: string | null;
  messageType: string;
  data: unknown;
  sentAt: string;
}

export interface RoomPort {
  publish(message: RoomPublish): Promise<{ recipients: number }>;
}

export interface GatewayPorts {
  user(userId: string): UserPort;
  shard(index: number): ShardPort;
  /** The RoomHub of a group, or null while this deployment has no ROOM_HUB binding. */
  room(groupName: string): RoomPort | null;
  /** Milliseconds since the epoch. */
  now(): number;
  /** A new message or notification id. */
  newId(): string;
}

/** `from_user_id` of a broadcast that server code (the API key, a service binding) sends. */
export const SYSTEM_SENDER = "system";

function userNotFound(userId: string): GatewayError {
  return new GatewayError("user_not_found", `no such user: ${userId}`, {
    details: { user_id: userId },
  });
}

export async function sendNotification(
  ports: GatewayPorts,
  userId: string,
  input: { title: string; message: string; data?: unknown },
): Promise<NotificationResult> {
  const notificationId = ports.newId();
  const result = await ports.user(userId).notify({
    notification_id: notificationId,
    title: input.title,
    message: input.message,
    data: input.data ?? {},
    created_at: new Date(ports.now()).toISOString(),
  });
  if (result.status === "not_found") throw userNotFound(userId);
  return {
    notification_id: notificationId,
    delivered: result.sockets > 0,
    connection_count: result.connectionCount,
  };
}

export async function sendDirectMessage(
  ports: GatewayPorts,
  userId: string,
  input: { from: { userId: string; username: string }; message: string; messageType: string },
): Promise<DirectMessageResult> {
  const messageId = ports.newId();
  const delivery = newDelivery(
    "user_message",
    {
      message_id: messageId,
      from_user_id: input.from.userId,
      from_username: input.from.username,
      message: input.message,
      message_type: input.messageType,
      sent_at: new Date(ports.now()).toISOString(),
    },
    messageId,
  );
  const result = await ports.user(userId).deliver(delivery);
  if (result.status === "not_found") throw userNotFound(userId);
  return { message_id: messageId, delivered: result.sockets > 0 };
}

export async function broadcastSystemMessage(
  ports: GatewayPorts,
  config: Config,
  input: { fromUserId: string | null; message: string; messageType: string },
): Promise<FanoutResult> {
  const messageId = ports.newId();
  const delivery = newDelivery(
    "system_broadcast",
    {
      message_id: messageId,
      message: input.message,
      message_type: input.messageType,
      from_user_id: input.fromUserId ?? SYSTEM_SENDER,
      sent_at: new Date(ports.now()).toISOString(),
    },
    messageId,
  );
  const recipients = await broadcastToShards(
    config.presenceShards,
    (index) => ports.shard(index).broadcast(delivery),
    { log: (message) => console.warn(`api:${message}`) },
  );
  return { message_id: messageId, recipients };
}

export async function sendToGroup(
  ports: GatewayPorts,
  config: Config,
  groupName: string,
  input: { fromUserId: string | null; messageType: string; data: unknown },
): Promise<FanoutResult> {
  validateGroupName(groupName, config);
  const room = ports.room(groupName);
  if (room === null) {
    throw new GatewayError("unavailable", "group messaging is not enabled in this deployment");
  }
  const messageId = ports.newId();
  const { recipients } = await room.publish({
    messageId,
    fromUserId: input.fromUserId,
    messageType: input.messageType,
    data: input.data,
    sentAt: new Date(ports.now()).toISOString(),
  });
  return { message_id: messageId, recipients };
}

/** A user's status; 404 for a user who never connected and is not in the application's table. */
export async function userStatus(ports: GatewayPorts, userId: string): Promise<UserStatusResult> {
  const hub = ports.user(userId);
  const [exists, status] = await Promise.all([hub.exists(), hub.status()]);
  if (!exists) throw userNotFound(userId);
  return {
    // The hub answers "" for a user it has no profile of (known only from the user table).
    user_id: userId,
    is_online: status.is_online,
    connection_count: status.connection_count,
    last_seen: status.last_seen,
  };
}

/** Every online user, merged from all PresenceShards, ordered by id. */
export async function onlineUsers(ports: GatewayPorts, config: Config): Promise<OnlineUsersResult> {
  const shards = await Promise.all(
    Array.from({ length: config.presenceShards }, (_, index) => ports.shard(index).online()),
  );
  const users = shards
    .flat()
    .map(({ user_id, connection_count }) => ({ user_id, connection_count }))
    .sort((a, b) => (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0));
  return { users, count: users.length };
}
