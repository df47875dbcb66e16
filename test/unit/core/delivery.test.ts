import { describe, expect, it } from "vitest";
import {
  type Delivery,
  type DeliverySocket,
  deliver,
  newDelivery,
  RecentIds,
  type Recipient,
} from "../../../src/core/delivery.ts";
import { Mailbox } from "../../../src/core/mailbox.ts";
import type { MailboxType } from "../../../src/protocol/messages.ts";
import { memorySql } from "../helpers/sqlite.ts";

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);
const SENT_AT = new Date(T0).toISOString();

interface FakeSocket extends DeliverySocket {
  frames: string[];
}

function socket(groups: string[] = []): FakeSocket {
  const frames: string[] = [];
  return { frames, groups, send: (frame) => frames.push(frame) };
}

interface User {
  recipient: Recipient;
  mailbox: Mailbox;
  sockets: FakeSocket[];
  knownLookups: number;
}

/** A user with these sockets; `known` is what the user table says when no socket is open. */
function user(sockets: FakeSocket[], known = true): User {
  const mailbox = new Mailbox(memorySql(), { max: 1_000, ttlSeconds: 7 * 24 * 3600 });
  const u: User = {
    mailbox,
    sockets,
    knownLookups: 0,
    recipient: {
      mailbox,
      sockets: () => u.sockets,
      isKnownUser: async () => {
        u.knownLookups += 1;
        return known;
      },
      now: () => T0,
    },
  };
  return u;
}

function directMessage(messageId = "dm-1"): Delivery {
  return newDelivery(
    "user_message",
    {
      message_id: messageId,
      from_user_id: "alice",
      from_username: "Alice",
      message: "hello",
      message_type: "chat_message",
      sent_at: SENT_AT,
    },
    messageId,
  );
}

function notification(id = "n-1"): Delivery {
  return newDelivery(
    "notification",
    { notification_id: id, title: "Hi", message: "body", data: null, created_at: SENT_AT },
    id,
  );
}

function systemBroadcast(messageId = "b-1"): Delivery {
  return newDelivery(
    "system_broadcast",
    {
      message_id: messageId,
      message: "maintenance",
      message_type: "system_broadcast",
      from_user_id: "staff",
      sent_at: SENT_AT,
    },
    messageId,
  );
}

function groupMessage(group = "group_a", messageId = "g-1"): Delivery {
  return newDelivery(
    "group_message",
    {
      message_id: messageId,
      group_name: group,
      from_user_id: "alice",
      message_type: "group_message",
      message: "hi all",
      sent_at: SENT_AT,
      group_seq: 3,
      epoch: "e1",
    },
    messageId,
    group,
  );
}

function consultationMessage(messageId = "c-1"): Delivery {
  return newDelivery(
    "consultation_message",
    {
      message_id: messageId,
      consultation_id: "7",
      from_user_id: "alice",
      from_username: "Alice",
      message: "doctor?",
      sent_at: SENT_AT,
      group_seq: 1,
      epoch: "e1",
    },
    messageId,
    "consultation_7",
  );
}

const parsed = (s: FakeSocket) => s.frames.map((f) => JSON.parse(f) as Record<string, unknown>);

describe("deliver", () => {
  describe("to a user with open sockets", () => {
    it("stores a direct message with the next seq and sends it to every socket", async () => {
      const alice = user([socket(), socket()]);
      const result = await deliver(alice.recipient, directMessage());
      expect(result).toEqual({ status: "delivered", seq: 1, sockets: 2, connectionCount: 2 });
      for (const s of alice.sockets) {
        expect(parsed(s)).toEqual([
          expect.objectContaining({
            type: "user_message",
            seq: 1,
            data: JSON.parse(directMessage().json),
          }),
        ]);
      }
      expect(alice.mailbox.seqOf("dm-1")).toBe(1);
    });

    it("does not ask the user table when a socket is open", async () => {
      const alice = user([socket()], false);
      expect((await deliver(alice.recipient, directMessage())).status).toBe("delivered");
      expect(alice.knownLookups).toBe(0);
    });

    it("gives each stored message the next seq on its frame", async () => {
      const alice = user([socket()]);
      await deliver(alice.recipient, directMessage("a"));
      await deliver(alice.recipient, notification("b"));
      await deliver(alice.recipient, systemBroadcast("c"));
      expect(parsed(alice.sockets[0] as FakeSocket).map((f) => [f.type, f.seq])).toEqual([
        ["user_message", 1],
        ["notification", 2],
        ["system_broadcast", 3],
      ]);
    });
  });

  describe("to a known user with no socket", () => {
    it.each([
      ["user_message", directMessage()],
      ["notification", notification()],
    ] as const)("stores a %s for resume", async (_type, delivery) => {
      const bob = user([], true);
      expect(await deliver(bob.recipient, delivery)).toEqual({
        status: "stored",
        seq: 1,
        sockets: 0,
        connectionCount: 0,
      });
      expect(bob.mailbox.replay(0, T0).messages).toEqual([
        { seq: 1, type: delivery.type, json: delivery.json, createdAt: T0 },
      ]);
    });

    it.each([
      ["system_broadcast", systemBroadcast()],
      ["group_message", groupMessage()],
      ["consultation_message", consultationMessage()],
    ] as const)("drops a %s without storing it", async (_type, delivery) => {
      const bob = user([], true);
      expect(await deliver(bob.recipient, delivery)).toEqual({
        status: "dropped",
        seq: null,
        sockets: 0,
        connectionCount: 0,
      });
      expect(bob.mailbox.lastSeq()).toBe(0);
    });
  });

  describe("to an unknown user with no socket", () => {
    it.each([
      ["user_message", directMessage()],
      ["notification", notification()],
    ] as const)("answers not_found for a %s and stores nothing", async (_type, delivery) => {
      const ghost = user([], false);
      expect(await deliver(ghost.recipient, delivery)).toEqual({
        status: "not_found",
        seq: null,
        sockets: 0,
        connectionCount: 0,
      });
      expect(ghost.mailbox.lastSeq()).toBe(0);
    });

    it("drops a broadcast without asking whether the user exists", async () => {
      const ghost = user([], false);
      expect((await deliver(ghost.recipient, systemBroadcast())).status).toBe("dropped");
      expect(ghost.knownLookups).toBe(0);
    });
  });

  describe("group deliveries", () => {
    it("reach only the sockets whose groups include the group, unstored and with no seq", async () => {
      const inGroup = socket(["group_a", "team_x"]);
      const otherGroup = socket(["group_b"]);
      const noGroup = socket();
      const alice = user([inGroup, otherGroup, noGroup]);
      expect(await deliver(alice.recipient, groupMessage("group_a"))).toEqual({
        status: "delivered",
        seq: null,
        sockets: 1,
        connectionCount: 3,
      });
      const [frame] = parsed(inGroup);
      expect(frame).toEqual({
        type: "group_message",
        data: JSON.parse(groupMessage().json),
        ts: expect.any(String),
      });
      expect(frame?.data).toMatchObject({ group_seq: 3, epoch: "e1" });
      expect(otherGroup.frames).toEqual([]);
      expect(noGroup.frames).toEqual([]);
      // Stored once in the room, never in a member's mailbox.
      expect(alice.mailbox.lastSeq()).toBe(0);
    });

    it("are dropped, unstored, when the user is online but no socket joined the group", async () => {
      const alice = user([socket(["group_b"])]);
      expect(await deliver(alice.recipient, groupMessage("group_a"))).toEqual({
        status: "dropped",
        seq: null,
        sockets: 0,
        connectionCount: 1,
      });
      expect(alice.mailbox.lastSeq()).toBe(0);
      expect(alice.sockets[0]?.frames).toEqual([]);
    });

    it("are pushed once when a fan-out shard retries them (RecentIds)", async () => {
      const joined = socket(["group_a"]);
      const alice = user([joined]);
      alice.recipient.pushed = new RecentIds(2);
      expect((await deliver(alice.recipient, groupMessage("group_a"))).status).toBe("delivered");
      expect((await deliver(alice.recipient, groupMessage("group_a"))).status).toBe("duplicate");
      expect(joined.frames).toHaveLength(1);
      // Past its capacity the oldest id is forgotten.
      const ids = new RecentIds(2);
      expect([ids.seen("a"), ids.seen("b"), ids.seen("c"), ids.seen("a")]).toEqual([
        false,
        false,
        false,
        false,
      ]);
      expect(ids.seen("c")).toBe(true);
    });

    it("match the group name exactly, not by prefix", async () => {
      const alice = user([socket(["group_ab"])]);
      expect((await deliver(alice.recipient, groupMessage("group_a"))).status).toBe("dropped");
    });

    it("reach consultation sockets of that consultation's room", async () => {
      const room = socket(["consultation_7"]);
      const alice = user([room, socket(["consultation_8"])]);
      const result = await deliver(alice.recipient, consultationMessage());
      expect(result).toMatchObject({ status: "delivered", sockets: 1 });
      expect(parsed(room).map((f) => f.type)).toEqual(["consultation_message"]);
    });
  });

  describe("a repeated message id (a retried fan-out)", () => {
    // Room messages are de-duplicated by their room, which stores them (room-history.ts).
    const kinds: [MailboxType, () => Delivery][] = [
      ["user_message", () => directMessage("same")],
      ["notification", () => notification("same")],
      ["system_broadcast", () => systemBroadcast("same")],
    ];

    it.each(kinds)(
      "answers duplicate for a %s with the first seq and sends nothing",
      async (_t, make) => {
        const s = socket(["group_a", "consultation_7"]);
        const alice = user([s]);
        await deliver(alice.recipient, directMessage("before"));
        const first = await deliver(alice.recipient, make());
        expect(first).toMatchObject({ status: "delivered", seq: 2 });
        const framesBefore = s.frames.length;

        expect(await deliver(alice.recipient, make())).toEqual({
          status: "duplicate",
          seq: 2,
          sockets: 0,
          connectionCount: 1,
        });
        expect(s.frames).toHaveLength(framesBefore);
        expect(alice.mailbox.lastSeq()).toBe(2);
      },
    );

    it("answers duplicate for a message stored while the user was offline", async () => {
      const bob = user([], true);
      await deliver(bob.recipient, directMessage());
      bob.sockets.push(socket());
      expect(await deliver(bob.recipient, directMessage())).toEqual({
        status: "duplicate",
        seq: 1,
        sockets: 0,
        connectionCount: 1,
      });
      expect(bob.sockets[0]?.frames).toEqual([]);
    });
  });
});
