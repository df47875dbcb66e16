/**
 * Room history inside workerd (docs/protocol.md, "Rooms"): each room message stored once in its RoomHub
 * with a group_seq and the room's epoch, replayed by join_group { since_group_seq } and by
 * resume on consultation sockets, and a room whose storage was lost says so.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Frame } from "../helpers/frames.ts";
import { mintToken } from "../helpers/tokens.ts";
import {
  connectAs,
  join,
  reply,
  type TestSocket,
  uniqueUser,
  upgrade,
  wrapSocket,
} from "./helpers.ts";

const say = (s: TestSocket, group_name: string, message: string) =>
  reply(s, "group_message", { group_name, message });

const roomOf = (group: string) => env.ROOM_HUB.getByName(`room:${group}`);

/** Rows in one of an actor's tables (0 when the table was never created). */
function rowsIn(stub: DurableObjectStub, table: string): Promise<number> {
  return runInDurableObject(stub, (_actor, state) => {
    const [exists] = state.storage.sql
      .exec<{ n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE name = ?", table)
      .toArray();
    if ((exists?.n ?? 0) === 0) return 0;
    const [row] = state.storage.sql
      .exec<{ n: number }>(`SELECT count(*) AS n FROM ${table}`)
      .toArray();
    return row?.n ?? 0;
  });
}

async function consultationSocket(consultationId: string, userId: string) {
  const jwt = await mintToken(userId, { groups: [`consultation_${consultationId}`] });
  const response = await upgrade(`/ws/consultation/${consultationId}/?token=${jwt}`);
  if (response.status !== 101) throw new Error(`refused: ${response.status}`);
  const socket = wrapSocket(response.webSocket as WebSocket);
  return { socket, established: await socket.established };
}

const dataOf = (frame: Frame) => frame.data as Record<string, unknown>;

describe("room history", () => {
  it("stores a group message once, in its room, and in no member's mailbox", async () => {
    const group = `group_${uniqueUser("g")}`;
    const users = [uniqueUser("a"), uniqueUser("b"), uniqueUser("c")];
    const sockets = await Promise.all(users.map((u) => connectAs(u, { groups: [group] })));
    for (const s of sockets) await join(s, group);
    const [sender] = sockets as [TestSocket];
    for (const text of ["one", "two"]) await say(sender, group, text);
    for (const s of sockets.slice(1)) {
      const frames = [await s.frames.next("group_message"), await s.frames.next("group_message")];
      expect(frames.map((f) => [dataOf(f).message, dataOf(f).group_seq, f.seq])).toEqual([
        ["one", 1, undefined],
        ["two", 2, undefined],
      ]);
    }
    expect(await rowsIn(roomOf(group), "room_history")).toBe(2);
    for (const user of users) expect(await rowsIn(env.USER_HUB.getByName(user), "mailbox")).toBe(0);
    // A user mailbox resume no longer replays group messages.
    const resumed = await reply(sockets[1] as TestSocket, "resume", { since_seq: 0 });
    expect(resumed.data).toMatchObject({ to_seq: 0, complete: true });
  });

  it("join_group with since_group_seq replays exactly the missed messages, then group_joined", async () => {
    const group = `group_${uniqueUser("g")}`;
    const grant = { groups: [group] };
    const ann = await connectAs(uniqueUser("ann"), grant);
    const bobId = uniqueUser("bob");
    const bob = await connectAs(bobId, grant);
    await join(ann, group);
    const first = await join(bob, group);
    await say(ann, group, "seen 1");
    const seen = await bob.frames.next("group_message");
    expect(dataOf(seen).group_seq).toBe(1);
    bob.ws.close(1000);
    await bob.frames.waitClosed();
    for (const text of ["missed 2", "missed 3"]) await say(ann, group, text);

    const again = await connectAs(bobId, grant);
    const rejoined = await join(again, group, {
      since_group_seq: 1,
      epoch: dataOf(first).epoch,
    });
    const replayed = again.frames.unconsumed("group_message");
    expect(replayed.map((f) => [dataOf(f).message, dataOf(f).group_seq])).toEqual([
      ["missed 2", 2],
      ["missed 3", 3],
    ]);
    expect(rejoined.data).toMatchObject({
      group_name: group,
      group_seq: 3,
      epoch: dataOf(first).epoch,
      complete: true,
    });
  });

  it("a room whose storage was wiped has a new epoch, and a join from an old position is incomplete", async () => {
    const group = `group_${uniqueUser("g")}`;
    const grant = { groups: [group] };
    const ann = await connectAs(uniqueUser("ann"), grant);
    const before = await join(ann, group);
    for (const text of ["a", "b", "c"]) await say(ann, group, text);

    const room = roomOf(group);
    await runInDurableObject(room, (_actor, state) => state.storage.deleteAll());
    await evictDurableObject(room);

    const bob = await connectAs(uniqueUser("bob"), grant);
    const after = await join(bob, group, { since_group_seq: 3 });
    expect(after.data).toMatchObject({ group_name: group, group_seq: 0, complete: false });
    expect(dataOf(after).epoch).not.toBe(dataOf(before).epoch);
    // Once the new history is ahead of the old position, only the epoch tells them apart.
    for (const text of ["d", "e", "f", "g"]) await say(bob, group, text);
    const carol = await connectAs(uniqueUser("carol"), grant);
    const stale = await join(carol, group, { since_group_seq: 3, epoch: dataOf(before).epoch });
    expect(stale.data).toMatchObject({ group_seq: 4, complete: false });
    expect(carol.frames.unconsumed("group_message").map((f) => dataOf(f).message)).toEqual([
      "d",
      "e",
      "f",
      "g",
    ]);
  });

  it("consultation sockets: the room's position at connect, seq = group_seq, resume replays the gap", async () => {
    const id = uniqueUser("c");
    const group = `consultation_${id}`;
    const doctorId = uniqueUser("doc");
    const doctor = await consultationSocket(id, doctorId);
    expect(doctor.established.data).toMatchObject({
      last_seq: 0,
      group_seq: 0,
      epoch: expect.any(String),
    });
    const { epoch } = doctor.established.data as { epoch: string };
    await reply(doctor.socket, "consultation_message", { message: "first" });
    const nurse = await connectAs(uniqueUser("nurse"), { groups: [group] });
    await join(nurse, group);
    const sent = await exports.RealtimeService.sendToGroup(group, {
      messageType: "consultation_update",
      data: { step: 2 },
    });
    expect(sent.recipients).toBe(2);
    const onSocket = await doctor.socket.frames.next("group_message");
    expect(onSocket.seq).toBe(2);
    expect(dataOf(onSocket)).toMatchObject({ group_seq: 2, epoch });
    const onTab = await nurse.frames.next("group_message");
    expect(onTab.seq).toBeUndefined();
    expect(dataOf(onTab)).toMatchObject({ group_seq: 2, epoch });

    doctor.socket.ws.close(1000);
    await doctor.socket.frames.waitClosed();
    await reply(nurse, "group_message", { group_name: group, message: "while away" });
    const back = await consultationSocket(id, doctorId);
    expect(back.established.data).toMatchObject({ last_seq: 3, group_seq: 3, epoch });
    const resumed = await reply(back.socket, "resume", { since_seq: 2 });
    const missed = back.socket.frames.unconsumed("group_message");
    expect(missed.map((f) => [f.seq, dataOf(f).message])).toEqual([[3, "while away"]]);
    expect(resumed.data).toEqual({ from_seq: 2, to_seq: 3, complete: true });
  });

  it("room sockets: the room's position at connect, seq = group_seq, resume replays the gap", async () => {
    const group = `group_${uniqueUser("g")}`;
    const userId = uniqueUser("ann");
    const token = await mintToken(userId, { groups: [group] });
    const open = async () => {
      const response = await upgrade(`/ws/group/${group}/?token=${token}`);
      const socket = wrapSocket(response.webSocket as WebSocket);
      return { socket, established: await socket.established };
    };
    // Stored although no socket of the room was there to receive it.
    await exports.RealtimeService.sendToGroup(group, { messageType: "note", data: { n: 1 } });
    const first = await open();
    expect(first.established.data).toMatchObject({ last_seq: 1, group_seq: 1 });
    const { epoch } = first.established.data as { epoch: string };
    await exports.RealtimeService.sendToGroup(group, { messageType: "note", data: { n: 2 } });
    const live = await first.socket.frames.next("group_message");
    expect([live.seq, dataOf(live).group_seq, dataOf(live).epoch]).toEqual([2, 2, epoch]);

    first.socket.ws.close(1000);
    await first.socket.frames.waitClosed();
    await exports.RealtimeService.sendToGroup(group, { messageType: "note", data: { n: 3 } });
    const again = await open();
    const resumed = await reply(again.socket, "resume", { since_seq: 2 });
    const missed = again.socket.frames.unconsumed("group_message");
    expect(missed.map((f) => [f.seq, dataOf(f).data])).toEqual([[3, { n: 3 }]]);
    expect(resumed.data).toEqual({ from_seq: 2, to_seq: 3, complete: true });
  });
});
