/**
 * An in-memory HubPort and a CommandContext around it, so handlers run without an actor.
 */
import { RANDOM_IDS, type RoomPublish } from "../../../src/app/ports.ts";
import { verifyToken } from "../../../src/core/auth.ts";
import type { Config } from "../../../src/core/config.ts";
import { type Connection, newConnection } from "../../../src/core/connection.ts";
import type { Delivery, DeliveryResult } from "../../../src/core/delivery.ts";
import {
  type CommandBudget,
  type CommandContext,
  type HubPort,
  NO_BUDGET,
} from "../../../src/core/handlers/index.ts";
import { mailboxResumption, type ReplayResult } from "../../../src/core/mailbox.ts";
import { RoomHistory } from "../../../src/core/room-history.ts";
import { decodeFrame } from "../../../src/protocol/codec.ts";
import type {
  ClientCommand,
  ServerData,
  ServerType,
  UserStatus,
} from "../../../src/protocol/messages.ts";
import { memorySql } from "./sqlite.ts";

export interface FakeHub extends HubPort {
  /** Other users' statuses that `userStatuses` answers from; unknown ids are offline. */
  statuses: Map<string, UserStatus>;
  /** Every `userStatuses` call, with the ids it was asked for. */
  statusQueries: string[][];
  /** Connections passed to `saveConnection`, as snapshots. */
  saved: Connection[];
  reschedules: number;
  count: number;
  /** Every delivery to a user's actor. */
  deliveries: { userId: string; delivery: Delivery }[];
  /** What a user's actor answers a delivery with. */
  deliveryResult: DeliveryResult;
  broadcasts: Delivery[];
  /** How many users a broadcast reaches (all on the first shard). */
  broadcastReach: number;
  /** What `replay` answers. */
  replayResult: ReplayResult;
  /** What `verifySubscription` answers. */
  subscriptionValid: boolean;
  /** Group name → connection ids joined through `joinRoom`. */
  rooms: Map<string, Set<string>>;
  /** Group name → its history (real, over an in-memory SQLite), filled by `publish`. */
  histories: Map<string, RoomHistory>;
  published: { groupName: string; message: RoomPublish }[];
  publishReach: number;
}

export function fakeHub(config: Config): FakeHub {
  const hub: FakeHub = {
    statuses: new Map(),
    statusQueries: [],
    saved: [],
    reschedules: 0,
    count: 1,
    connectionCount: () => hub.count,
    async userStatuses(userIds) {
      hub.statusQueries.push([...userIds]);
      return userIds.map(
        (id) => hub.statuses.get(id) ?? { user_id: id, is_online: false, last_seen: null },
      );
    },
    verifyToken: (token) => verifyToken(token, config),
    saveConnection(connection) {
      hub.saved.push(structuredClone(connection));
    },
    async reschedule() {
      hub.reschedules += 1;
    },
    deliveries: [],
    deliveryResult: { status: "delivered", seq: 1, sockets: 1, connectionCount: 1 },
    broadcasts: [],
    broadcastReach: 0,
    actors: {
      user: (userId) => ({
        async deliver(delivery) {
          hub.deliveries.push({ userId, delivery });
          return hub.deliveryResult;
        },
        notify: () => Promise.reject(new Error("not asked of a socket")),
        exists: () => Promise.reject(new Error("not asked of a socket")),
        status: () => Promise.reject(new Error("not asked of a socket")),
      }),
      shard: (index) => ({
        async broadcast(delivery) {
          if (index > 0) return 0;
          hub.broadcasts.push(delivery);
          return hub.broadcastReach;
        },
        online: () => Promise.reject(new Error("not asked of a socket")),
      }),
      room: (groupName) => ({
        async publish(message) {
          hub.published.push({ groupName, message });
          const { messageId, fromUserId, messageType, sentAt } = message;
          historyOf(groupName).append(
            messageId,
            "group_message",
            {
              message_id: messageId,
              group_name: groupName,
              from_user_id: fromUserId ?? "system",
              message_type: messageType,
              ...(message.message === undefined ? {} : { message: message.message }),
              sent_at: sentAt,
            },
            Date.parse(sentAt),
          );
          return { recipients: hub.publishReach };
        },
        async join(_userId, connectionId, since) {
          const members = hub.rooms.get(groupName) ?? new Set<string>();
          members.add(connectionId);
          hub.rooms.set(groupName, members);
          return { memberCount: members.size, history: historyOf(groupName).replay(since, 0) };
        },
        async leave(_userId, connectionId) {
          const members = hub.rooms.get(groupName) ?? new Set<string>();
          members.delete(connectionId);
          return members.size;
        },
      }),
    },
    replayResult: { messages: [], fromSeq: 0, toSeq: 0, complete: true },
    replay: () => mailboxResumption(hub.replayResult),
    subscriptionValid: false,
    async verifySubscription() {
      return hub.subscriptionValid;
    },
    rooms: new Map(),
    histories: new Map(),
    published: [],
    publishReach: 0,
    async postConsultation() {
      throw new Error("not a consultation socket");
    },
  };
  function historyOf(groupName: string): RoomHistory {
    let history = hub.histories.get(groupName);
    if (!history) {
      history = new RoomHistory(memorySql(), { max: 1_000, ttlSeconds: 7 * 24 * 3600 }, () => "e1");
      hub.histories.set(groupName, history);
    }
    return history;
  }
  return hub;
}

export interface SentReply {
  type: ServerType;
  data: unknown;
}

export interface TestContext extends CommandContext {
  readonly hub: FakeHub;
  readonly replies: SentReply[];
  /** Raw frames sent with `send` (replayed mailbox messages). */
  readonly sent: string[];
  /** The close this handler asked for, if any. */
  readonly closed: { code: number; reason: string }[];
}

export function connectionOf(
  userId: string,
  fields: Partial<Omit<Connection, "v" | "userId">> = {},
): Connection {
  const connection = newConnection({
    connectionId: `conn-${userId}`,
    userId,
    username: userId,
    isStaff: false,
    isSuperuser: false,
    grants: [],
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    connectedAt: Date.now(),
    ...fields,
  });
  if (fields.groups) connection.groups = [...fields.groups];
  if (fields.subscribed) connection.subscribed = [...fields.subscribed];
  return connection;
}

export function commandContext(
  config: Config,
  connection: Connection,
  options: { now?: () => number; hub?: FakeHub; budget?: CommandBudget } = {},
): TestContext {
  const replies: SentReply[] = [];
  const sent: string[] = [];
  const closed: { code: number; reason: string }[] = [];
  return {
    sent,
    send: (frame) => sent.push(frame),
    closed,
    close: ({ code, reason }) => closed.push({ code, reason }),
    connection,
    config,
    hub: options.hub ?? fakeHub(config),
    budget: options.budget ?? NO_BUDGET,
    now: options.now ?? Date.now,
    ids: RANDOM_IDS,
    requestId: undefined,
    replies,
    reply<K extends ServerType>(type: K, data: ServerData[K]) {
      replies.push({ type, data });
    },
  };
}

/** A command as the codec would hand it to dispatch; throws when the frame does not decode. */
export function command(frame: Record<string, unknown>): ClientCommand {
  const decoded = decodeFrame(JSON.stringify(frame));
  if (!decoded.ok) throw new Error(`test frame does not decode: ${decoded.error.code}`);
  return decoded.command;
}
