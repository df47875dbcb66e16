/**
 * An in-memory HoldingActor and a CommandContext around it, so handlers run without an actor;
 * and the few steps every handler test takes.
 */
import { afterEach, beforeEach, vi } from "vitest";
import { RANDOM_IDS, type RoomPublish } from "../../../src/app/context.ts";
import {
  type CommandBudget,
  type CommandContext,
  DEFAULT_HANDLERS,
  dispatch,
  type HoldingActor,
  NO_BUDGET,
} from "../../../src/app/socket/index.ts";
import type { Config } from "../../../src/core/config.ts";
import { type Connection, newConnection } from "../../../src/core/connection.ts";
import type { Delivery, DeliveryResult } from "../../../src/core/delivery.ts";
import { mailboxResumption, type ReplayResult } from "../../../src/core/mailbox.ts";
import { RoomHistory } from "../../../src/core/room-history.ts";
import { decodeFrame } from "../../../src/protocol/codec.ts";
import { GatewayError } from "../../../src/protocol/errors.ts";
import type {
  ClientCommand,
  ServerData,
  ServerType,
  UserStatus,
} from "../../../src/protocol/messages.ts";
import { configWith } from "./jwt.ts";
import { memorySql } from "./sqlite.ts";

/** The configuration handler tests run with: the defaults and the test signing key. */
export const config = configWith();

export interface FakeHolder extends HoldingActor {
  /** Other users' statuses that their actors answer with; unknown ids are offline. */
  statuses: Map<string, UserStatus>;
  /** Every user whose actor was asked for its status, in order. */
  statusQueries: string[];
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
  /** Group name → connection ids joined through `joinRoom`. */
  rooms: Map<string, Set<string>>;
  /** Group name → its history (real, over an in-memory SQLite), filled by `publish`. */
  histories: Map<string, RoomHistory>;
  published: { groupName: string; message: RoomPublish }[];
  publishReach: number;
}

export function fakeHolder(): FakeHolder {
  const holder: FakeHolder = {
    statuses: new Map(),
    statusQueries: [],
    saved: [],
    reschedules: 0,
    count: 1,
    connectionCount: () => holder.count,
    saveConnection(connection) {
      holder.saved.push(structuredClone(connection));
    },
    async reschedule() {
      holder.reschedules += 1;
    },
    deliveries: [],
    deliveryResult: { status: "delivered", seq: 1, sockets: 1, connectionCount: 1 },
    broadcasts: [],
    broadcastReach: 0,
    actors: {
      user: (userId) => ({
        async deliver(delivery) {
          holder.deliveries.push({ userId, delivery });
          return holder.deliveryResult;
        },
        notify: () => Promise.reject(new Error("not asked of a socket")),
        details: () => Promise.reject(new Error("not asked of a socket")),
        exists: () => Promise.reject(new Error("not asked of a socket")),
        async status() {
          holder.statusQueries.push(userId);
          const known = holder.statuses.get(userId);
          return {
            is_online: known?.is_online ?? false,
            connection_count: known?.is_online ? 1 : 0,
            last_seen: known?.last_seen ?? null,
          };
        },
        terminate: () => Promise.reject(new Error("not asked of a socket")),
      }),
      shard: (index) => ({
        async broadcast(delivery) {
          if (index > 0) return 0;
          holder.broadcasts.push(delivery);
          return holder.broadcastReach;
        },
        online: () => Promise.reject(new Error("not asked of a socket")),
      }),
      room: (groupName) => ({
        async publish(message) {
          holder.published.push({ groupName, message });
          const { messageId, sentAt } = message;
          const history = historyOf(groupName);
          if (message.type === "group_message") {
            history.append(
              messageId,
              "group_message",
              {
                message_id: messageId,
                group_name: groupName,
                from_user_id: message.fromUserId ?? "system",
                message_type: message.messageType,
                ...(message.message === undefined ? {} : { message: message.message }),
                sent_at: sentAt,
              },
              Date.parse(sentAt),
            );
          }
          return { recipients: holder.publishReach };
        },
        async join(_userId, connectionId, since) {
          const members = holder.rooms.get(groupName) ?? new Set<string>();
          members.add(connectionId);
          holder.rooms.set(groupName, members);
          return { memberCount: members.size, history: historyOf(groupName).replay(since, 0) };
        },
        async leave(_userId, connectionId) {
          const members = holder.rooms.get(groupName) ?? new Set<string>();
          members.delete(connectionId);
          return members.size;
        },
      }),
    },
    replayResult: { messages: [], fromSeq: 0, toSeq: 0, complete: true },
    replay: () => mailboxResumption(holder.replayResult),
    rooms: new Map(),
    histories: new Map(),
    published: [],
    publishReach: 0,
  };
  function historyOf(groupName: string): RoomHistory {
    let history = holder.histories.get(groupName);
    if (!history) {
      history = new RoomHistory(memorySql(), { max: 1_000, ttlSeconds: 7 * 24 * 3600 }, () => "e1");
      holder.histories.set(groupName, history);
    }
    return history;
  }
  return holder;
}

export interface SentReply {
  type: ServerType;
  data: unknown;
}

export interface TestContext extends CommandContext {
  readonly holder: FakeHolder;
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

/** A command's context on `connection`, with the test configuration unless given another. */
export function commandContext(
  connection: Connection,
  options: {
    config?: Config;
    now?: () => number;
    holder?: FakeHolder;
    budget?: CommandBudget;
  } = {},
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
    config: options.config ?? config,
    holder: options.holder ?? fakeHolder(),
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

/** Runs one command through the user-socket table and returns the context to inspect. */
export async function run(ctx: TestContext, frame: Record<string, unknown>): Promise<TestContext> {
  await dispatch(DEFAULT_HANDLERS, ctx, command(frame));
  return ctx;
}

/** The GatewayError a command was refused with, whether the handler threw or rejected. */
export async function refusal(
  ctx: TestContext,
  frame: Record<string, unknown>,
): Promise<GatewayError> {
  try {
    await dispatch(DEFAULT_HANDLERS, ctx, command(frame));
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error(
    `expected ${String(frame.type)} to be refused; replies: ${JSON.stringify(ctx.replies)}`,
  );
}

/** What `Date` reads in every test file that imports this one (timers stay real). */
export const NOW = new Date("2026-11-25T10:00:00.000Z");

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(NOW);
});
afterEach(() => {
  vi.useRealTimers();
});
