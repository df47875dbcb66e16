import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { shardName, shardOf } from "../../src/core/sharding.ts";
import { eventually } from "../helpers/frames.ts";
import { connectAs, type TestSocket, uniqueUser } from "./helpers.ts";

async function reply(socket: TestSocket, frame: Record<string, unknown>) {
  const id = `r-${Math.random().toString(36).slice(2)}`;
  socket.send({ ...frame, id });
  return socket.frames.next((f) => f.id === id);
}

/** Run the pending alarm (the outbox flush) of these users now, so their PresenceShards are current. */
async function flushPresence(...users: string[]) {
  // Mirrors (and the shards) are written from the alarm a moment after a change; wait until
  // each user's shard agrees with the user's hub, running the alarms when they are due.
  await eventually(async () => {
    for (const user of users) {
      await runDurableObjectAlarm(env.USER_HUB.getByName(user));
      const online = await env.PRESENCE_SHARD.getByName(shardName(shardOf(user, 4))).online();
      const listed = online.some((u) => u.user_id === user);
      if (listed !== (await env.USER_HUB.getByName(user).status()).is_online) return false;
    }
    return true;
  });
}

describe("direct messages", () => {
  it("reaches every tab of the target once and tells the sender how many", async () => {
    const [ann, bob] = [uniqueUser("ann"), uniqueUser("bob")];
    const sender = await connectAs(ann, { username: "ann" });
    const tabs = [await connectAs(bob), await connectAs(bob), await connectAs(bob)];
    const sent = await reply(sender, {
      type: "send_message",
      data: { target_user_id: bob, message: "hi bob", message_type: "chat_message" },
    });
    expect(sent.type).toBe("message_sent");
    expect(sent.data).toMatchObject({ target_user_id: bob, recipients: 3, delivered: true });
    for (const tab of tabs) {
      const message = await tab.frames.next("user_message");
      expect(message.data).toMatchObject({
        message_id: sent.data.message_id,
        from_user_id: ann,
        from_username: "ann",
        message: "hi bob",
        message_type: "chat_message",
      });
      expect(message.seq).toBe(1);
      expect(tab.frames.unconsumed("user_message")).toEqual([]);
    }
    expect(sender.frames.unconsumed("user_message")).toEqual([]);
  });

  it("answers user_not_found for a user who never existed", async () => {
    const sender = await connectAs(uniqueUser());
    const error = await reply(sender, {
      type: "send_message",
      data: { target_user_id: "ghost-1", message: "x" },
    });
    expect(error.type).toBe("error");
    expect(error.data.code).toBe("user_not_found");
  });

  it("keeps a message for a known offline user, who gets it through resume", async () => {
    const [ann, bob] = [uniqueUser("ann"), uniqueUser("bob")];
    const first = await connectAs(bob);
    first.ws.close(1000);
    await first.frames.waitClosed();
    const sender = await connectAs(ann);
    const sent = await reply(sender, {
      type: "send_message",
      data: { target_user_id: bob, message: "while away" },
    });
    expect(sent.data).toMatchObject({ recipients: 0, delivered: false });

    const back = await connectAs(bob);
    expect((await back.established).data.last_seq).toBe(1);
    const resumed = back.frames.next("resumed");
    back.send({ type: "resume", data: { since_seq: 0 } });
    const message = await back.frames.next("user_message");
    expect(message).toMatchObject({ seq: 1, data: { message: "while away", from_user_id: ann } });
    expect((await resumed).data).toEqual({ from_seq: 0, to_seq: 1, complete: true });
  });
});

describe("resume", () => {
  it("replays exactly the missed messages in order, without duplicates", async () => {
    const [ann, bob] = [uniqueUser("ann"), uniqueUser("bob")];
    const sender = await connectAs(ann);
    const bobTab = await connectAs(bob);
    await reply(sender, { type: "send_message", data: { target_user_id: bob, message: "m1" } });
    const seen = await bobTab.frames.next("user_message");
    bobTab.ws.close(1000);
    await bobTab.frames.waitClosed();
    for (const text of ["m2", "m3", "m4"]) {
      await reply(sender, { type: "send_message", data: { target_user_id: bob, message: text } });
    }
    const again = await connectAs(bob);
    again.send({ type: "resume", data: { since_seq: seen.seq } });
    const done = await again.frames.next("resumed");
    const replayed = again.frames.received.filter((f) => f.type === "user_message");
    expect(replayed.map((f) => [f.seq, f.data.message])).toEqual([
      [2, "m2"],
      [3, "m3"],
      [4, "m4"],
    ]);
    expect(done.data).toEqual({ from_seq: 1, to_seq: 4, complete: true });
  });

  it("says complete: false when pruning (MAILBOX_MAX = 10) lost some", async () => {
    const [ann, bob] = [uniqueUser("ann"), uniqueUser("bob")];
    await (await connectAs(bob)).ws.close(1000);
    const sender = await connectAs(ann);
    for (let i = 1; i <= 15; i++) {
      await reply(sender, {
        type: "send_message",
        data: { target_user_id: bob, message: `n${i}` },
      });
    }
    const back = await connectAs(bob);
    back.send({ type: "resume", data: { since_seq: 0 } });
    const done = await back.frames.next("resumed");
    const replayed = back.frames.received.filter((f) => f.type === "user_message");
    expect(replayed.map((f) => f.seq)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(done.data).toEqual({ from_seq: 0, to_seq: 15, complete: false });
  });
});

describe("the presence shard", () => {
  it("shows each socket more or less of an online user at once, and keeps the count across an eviction", async () => {
    const user = uniqueUser("tabs");
    const shard = env.PRESENCE_SHARD.getByName(shardName(shardOf(user, 4)));
    const countOf = async () =>
      (await shard.online()).find((u) => u.user_id === user)?.connection_count;
    const tabs = [await connectAs(user), await connectAs(user), await connectAs(user)];
    // The shard is told within each socket's connect, so the count is right when it returns.
    expect(await countOf()).toBe(3);
    tabs.pop()?.ws.close(1000, "bye");
    await eventually(async () => (await countOf()) === 2);
    // Count changes are stored within COUNT_SAVE_DELAY_MS (1 s); after that, an evicted shard
    // comes back with them.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await evictDurableObject(shard).catch(() => undefined);
    expect(await countOf()).toBe(2);
    for (const tab of tabs) tab.ws.close(1000, "bye");
  });
});

describe("broadcasts", () => {
  it("are forbidden to non-staff", async () => {
    const socket = await connectAs(uniqueUser());
    const error = await reply(socket, { type: "broadcast", data: { message: "hello all" } });
    expect(error.data.code).toBe("forbidden");
  });

  it("reach every online user across shards and nobody offline, stored with a seq", async () => {
    const online = Array.from({ length: 12 }, () => uniqueUser("on"));
    const offline = uniqueUser("off");
    const sockets = await Promise.all(online.map((user) => connectAs(user)));
    const gone = await connectAs(offline);
    gone.ws.close(1000);
    await gone.frames.waitClosed();
    await flushPresence(...online, offline);
    const shards = new Set(online.map((u) => shardOf(u, 4)));
    expect(shards.size).toBeGreaterThan(1);

    const admin = uniqueUser("admin");
    const staff = await connectAs(admin, { staff: true });
    await flushPresence(admin);
    const sent = await reply(staff, { type: "broadcast", data: { message: "maintenance" } });
    expect(sent.type).toBe("message_sent");
    // Users of earlier tests in this file are still online too.
    expect(sent.data.recipients).toBeGreaterThanOrEqual(online.length + 1);
    for (const socket of sockets) {
      const frame = await socket.frames.next("system_broadcast");
      expect(frame.data).toMatchObject({
        message: "maintenance",
        from_user_id: admin,
        message_type: "system_broadcast",
      });
      expect(frame.seq).toBe(1);
    }
    // The offline user was not reached, so nothing was stored for them.
    const back = await connectAs(offline);
    expect((await back.established).data.last_seq).toBe(0);
  });

  it("still reaches everyone when a shard is evicted mid-way", async () => {
    const users = Array.from({ length: 8 }, () => uniqueUser("ev"));
    const sockets = await Promise.all(users.map((user) => connectAs(user)));
    await flushPresence(...users);
    const admin = uniqueUser("admin");
    const staff = await connectAs(admin, { superuser: true });
    await flushPresence(admin);
    const victim = env.PRESENCE_SHARD.getByName(shardName(shardOf(users[0] as string, 4)));
    staff.send({ type: "broadcast", id: "b", data: { message: "survive" } });
    await evictDurableObject(victim).catch(() => undefined);
    const sent = await staff.frames.next((f) => f.id === "b");
    expect(sent.type).toBe("message_sent");
    for (const socket of sockets) {
      expect((await socket.frames.next("system_broadcast")).data.message).toBe("survive");
      expect(socket.frames.unconsumed("system_broadcast")).toEqual([]);
    }
  });
});
