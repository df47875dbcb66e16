/**
 * An in-memory twin of the actors behind the HTTP API: users with sockets, presence shards and
 * group rooms. It records what the operations asked for, so tests assert on observable effects.
 */

import type { AppContext, RoomPublish } from "../../../src/app/context.ts";
import type { Delivery, DeliveryResult } from "../../../src/core/delivery.ts";
import type { Termination } from "../../../src/core/termination.ts";
import type { NotificationMessage } from "../../../src/protocol/messages.ts";

export interface FakeUser {
  sockets: number;
  isOnline: boolean;
  lastSeen: string | null;
  notifications: NotificationMessage[];
  deliveries: Delivery[];
}

export interface FakeApp extends AppContext {
  users: Map<string, FakeUser>;
  /** Online users per shard index. */
  shards: Map<number, { user_id: string; connection_count: number }[]>;
  broadcasts: { shard: number; delivery: Delivery }[];
  /** Group name → members reached by a publish; null makes `room()` answer null (no binding). */
  rooms: Map<string, number> | null;
  published: { groupName: string; message: RoomPublish }[];
  /** Groups joined, once per socket. */
  joined: string[];
  /** Terminations asked for, in order. */
  terminated: { userId: string; termination: Termination }[];
  /** Known users that were asked for, in order (exists/status/notify/deliver). */
  asked: string[];
}

export const FIXED_NOW = Date.parse("2026-11-25T10:00:00.000Z");

export function fakeApp(): FakeApp {
  let ids = 0;
  const app: FakeApp = {
    users: new Map(),
    shards: new Map(),
    broadcasts: [],
    rooms: new Map(),
    published: [],
    joined: [],
    terminated: [],
    asked: [],
    actors: {
      user(userId) {
        app.asked.push(userId);
        const user = () => app.users.get(userId);
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
          details: async () => {
            const u = user();
            const sockets = Array.from({ length: u?.sockets ?? 0 }, (_, index) => ({
              connection_id: `${userId}-c${index}`,
              kind: "user" as const,
              connected_at: new Date(FIXED_NOW).toISOString(),
              groups: [],
            }));
            const stored = (u?.notifications.length ?? 0) + (u?.deliveries.length ?? 0);
            return {
              user_id: u === undefined ? "" : userId,
              username: u === undefined ? null : userId,
              is_online: u?.isOnline ?? false,
              connection_count: sockets.length,
              last_seen: u?.lastSeen ?? null,
              sockets,
              groups: [],
              mailbox: {
                messages: stored,
                notifications: u?.notifications.length ?? 0,
                last_seq: stored,
              },
            };
          },
          terminate: async (termination) => {
            app.terminated.push({ userId, termination });
            const closed = user()?.sockets ?? 0;
            const u = user();
            if (u !== undefined) u.sockets = 0;
            return { closed };
          },
        };
      },
      shard(index) {
        return {
          online: async () => app.shards.get(index) ?? [],
          broadcast: async (delivery) => {
            app.broadcasts.push({ shard: index, delivery });
            return (app.shards.get(index) ?? []).length;
          },
        };
      },
      room(groupName) {
        const rooms = app.rooms;
        if (rooms === null) return null;
        return {
          publish: async (message) => {
            app.published.push({ groupName, message });
            return { recipients: rooms.get(groupName) ?? 0 };
          },
          join: async () => {
            app.joined.push(groupName);
            const memberCount = app.joined.filter((name) => name === groupName).length;
            const position = { fromSeq: 0, groupSeq: 0, epoch: "e1" };
            return { memberCount, history: { messages: [], ...position, complete: true } };
          },
          leave: async () => {
            app.joined.splice(app.joined.indexOf(groupName), 1);
            return app.joined.filter((name) => name === groupName).length;
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
  return app;
}

export function addUser(app: FakeApp, userId: string, user: Partial<FakeUser> = {}): FakeUser {
  const entry: FakeUser = {
    sockets: 0,
    isOnline: false,
    lastSeen: null,
    notifications: [],
    deliveries: [],
    ...user,
  };
  app.users.set(userId, entry);
  return entry;
}
