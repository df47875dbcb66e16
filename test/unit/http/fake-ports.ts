/**
 * An in-memory twin of the actors behind the HTTP API: users with sockets, presence shards and
 * group rooms. It records what the operations asked for, so tests assert on observable effects.
 */

import type { AppContext, RoomPublish } from "../../../src/app/ports.ts";
import type { Delivery, DeliveryResult } from "../../../src/core/delivery.ts";
import type { NotificationMessage } from "../../../src/protocol/messages.ts";

export interface FakeUser {
  sockets: number;
  isOnline: boolean;
  lastSeen: string | null;
  notifications: NotificationMessage[];
  deliveries: Delivery[];
}

export interface FakePorts extends AppContext {
  users: Map<string, FakeUser>;
  /** Online users per shard index. */
  shards: Map<number, { user_id: string; connection_count: number }[]>;
  broadcasts: { shard: number; delivery: Delivery }[];
  /** Group name → members reached by a publish; null makes `room()` answer null (no binding). */
  rooms: Map<string, number> | null;
  published: { groupName: string; message: RoomPublish }[];
  /** Groups joined, once per socket. */
  joined: string[];
  /** Known users that were asked for, in order (exists/status/notify/deliver). */
  asked: string[];
}

export const FIXED_NOW = Date.parse("2026-11-25T10:00:00.000Z");

export function fakePorts(): FakePorts {
  let ids = 0;
  const ports: FakePorts = {
    users: new Map(),
    shards: new Map(),
    broadcasts: [],
    rooms: new Map(),
    published: [],
    joined: [],
    asked: [],
    actors: {
      user(userId) {
        ports.asked.push(userId);
        const user = () => ports.users.get(userId);
        const result = (u: FakeUser | undefined): DeliveryResult =>
          u === undefined
            ? { status: "not_found", seq: null, sockets: 0, connectionCount: 0 }
            : {
                status: u.sockets > 0 ? "delivered" : "stored",
                seq: u.notifications.length + u.deliveries.length,
                sockets: u.sockets,
                connectionCount: u.sockets,
              };
        return {
          notify: async (notification) => {
            user()?.notifications.push(notification);
            return result(user());
          },
          deliver: async (delivery) => {
            user()?.deliveries.push(delivery);
            return result(user());
          },
          exists: async () => user() !== undefined,
          status: async () => ({
            is_online: user()?.isOnline ?? false,
            connection_count: user()?.sockets ?? 0,
            last_seen: user()?.lastSeen ?? null,
          }),
        };
      },
      shard(index) {
        return {
          online: async () => ports.shards.get(index) ?? [],
          broadcast: async (delivery) => {
            ports.broadcasts.push({ shard: index, delivery });
            return (ports.shards.get(index) ?? []).length;
          },
        };
      },
      room(groupName) {
        const rooms = ports.rooms;
        if (rooms === null) return null;
        return {
          publish: async (message) => {
            ports.published.push({ groupName, message });
            return { recipients: rooms.get(groupName) ?? 0 };
          },
          join: async () => {
            ports.joined.push(groupName);
            const memberCount = ports.joined.filter((name) => name === groupName).length;
            const position = { fromSeq: 0, groupSeq: 0, epoch: "e1" };
            return { memberCount, history: { messages: [], ...position, complete: true } };
          },
          leave: async () => {
            ports.joined.splice(ports.joined.indexOf(groupName), 1);
            return ports.joined.filter((name) => name === groupName).length;
          },
        };
      },
    },
    clock: { now: () => FIXED_NOW },
    ids: {
      newId: () => {
        ids += 1;
        return `id-${ids}`;
      },
    },
  };
  return ports;
}

export function addUser(ports: FakePorts, userId: string, user: Partial<FakeUser> = {}): FakeUser {
  const entry: FakeUser = {
    sockets: 0,
    isOnline: false,
    lastSeen: null,
    notifications: [],
    deliveries: [],
    ...user,
  };
  ports.users.set(userId, entry);
  return entry;
}
