import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { eventually, type Frame } from "../helpers/frames.ts";
import type { TokenOptions } from "../helpers/tokens.ts";
import { mintSubscriptionToken, mintToken } from "../helpers/tokens.ts";
import {
  connectAs,
  join,
  reply,
  type TestSocket,
  uniqueUser,
  upgrade,
  wrapSocket,
} from "./helpers.ts";

async function consultationUpgrade(
  consultationId: string,
  userId: string,
  token: TokenOptions = {},
) {
  const jwt = await mintToken(userId, token);
  return upgrade(`/ws/consultation/${consultationId}/?token=${jwt}`);
}

/** A consultation socket, once connection_established arrived; throws when refused. */
async function consultationSocket(
  consultationId: string,
  userId: string,
  token: TokenOptions = {},
) {
  const response = await consultationUpgrade(consultationId, userId, token);
  if (response.status !== 101)
    throw new Error(`refused: ${response.status} ${await response.text()}`);
  const socket = wrapSocket(response.webSocket as WebSocket);
  await socket.established;
  return socket;
}

describe("group names and authorization", () => {
  it("refuses names without an allowed prefix or with bad characters: invalid_group", async () => {
    const s = await connectAs(uniqueUser(), { staff: true });
    for (const name of ["random_x", "group_ bad", "", `group_${"x".repeat(130)}`, "group_é"]) {
      const answer = await join(s, name);
      expect(answer.data.code, name).toBe("invalid_group");
    }
  });

  it("allows a name matching the token's groups claim, exactly or by glob, and refuses others", async () => {
    const s = await connectAs(uniqueUser(), { groups: ["group_exact", "consultation_*"] });
    expect((await join(s, "group_exact")).type).toBe("group_joined");
    expect((await join(s, "consultation_42")).type).toBe("group_joined");
    const refused = await join(s, "group_other");
    expect(refused.data.code).toBe("forbidden");
  });

  it("allows a subscription token for that user and group, and no other", async () => {
    const user = uniqueUser();
    const s = await connectAs(user);
    const sign = (sub: string, group: string) => mintSubscriptionToken(sub, group);
    expect((await join(s, "group_sub", { token: await sign(user, "group_other") })).data.code).toBe(
      "forbidden",
    );
    expect(
      (await join(s, "group_sub", { token: await sign("someone", "group_sub") })).data.code,
    ).toBe("forbidden");
    expect((await join(s, "group_sub", { token: await sign(user, "group_sub") })).type).toBe(
      "group_joined",
    );
  });

  it("allows public prefixes and staff", async () => {
    const plain = await connectAs(uniqueUser());
    expect((await join(plain, "team_lobby")).type).toBe("group_joined");
    const staff = await connectAs(uniqueUser(), { staff: true });
    expect((await join(staff, "group_private")).type).toBe("group_joined");
  });
});

describe("membership and group messages", () => {
  it("joins, sends, leaves, and receives nothing after leaving", async () => {
    const group = `group_${uniqueUser("g")}`;
    const [a, b] = [
      await connectAs(uniqueUser("a"), { staff: true }),
      await connectAs(uniqueUser("b"), { staff: true }),
    ];
    const joined = await join(a, group);
    expect(joined.data).toEqual({
      group_name: group,
      member_count: 1,
      group_seq: 0,
      epoch: expect.any(String),
      complete: true,
    });
    expect((await join(b, group)).data).toMatchObject({ group_name: group, member_count: 2 });

    const sent = await reply(a, "group_message", { group_name: group, message: "hello group" });
    expect(sent.data).toMatchObject({ group_name: group, recipients: 2, delivered: true });
    const got = await b.frames.next("group_message");
    expect(got.data).toMatchObject({
      group_name: group,
      message: "hello group",
      message_type: "group_message",
      group_seq: 1,
      epoch: (joined.data as { epoch: string }).epoch,
    });
    // Stored once in the room: no per-user seq.
    expect(got.seq).toBeUndefined();

    expect((await reply(b, "leave_group", { group_name: group })).data).toEqual({
      group_name: group,
      member_count: 1,
    });
    expect((await reply(b, "leave_group", { group_name: group })).data.code).toBe("not_in_group");
    await reply(a, "group_message", { group_name: group, message: "after" });
    await reply(b, "ping", {});
    expect(b.frames.unconsumed("group_message")).toEqual([]);
    expect((await reply(b, "group_message", { group_name: group, message: "x" })).data.code).toBe(
      "not_in_group",
    );
  });

  it("a closed socket leaves its groups", async () => {
    const group = `group_${uniqueUser("g")}`;
    const a = await connectAs(uniqueUser(), { staff: true });
    const b = await connectAs(uniqueUser(), { staff: true });
    await join(a, group);
    expect((await join(b, group)).data.member_count).toBe(2);
    b.ws.close(1000);
    await b.frames.waitClosed();
    await eventually(
      async () => (await env.ROOM_HUB.getByName(`room:${group}`).memberCount()) === 1,
    );
  });

  it("a member going offline is heard once per co-member socket that shares a group, however many", async () => {
    const [a, b] = [`group_${uniqueUser("x")}`, `group_${uniqueUser("y")}`];
    const [ann, bob] = [uniqueUser("ann"), uniqueUser("bob")];
    const annTab = await connectAs(ann, { staff: true });
    const [both, one, none] = [
      await connectAs(bob, { staff: true }),
      await connectAs(bob, { staff: true }),
      await connectAs(bob, { staff: true }),
    ];
    for (const group of [a, b]) {
      await join(annTab, group);
      await join(both, group);
    }
    await join(one, b);
    const offline = (f: Frame) =>
      f.type === "status_changed" && f.data?.user_id === ann && f.data?.is_online === false;

    annTab.ws.close(1000, "bye");
    for (const tab of [both, one]) {
      expect((await tab.frames.next(offline)).data).toMatchObject({
        user_id: ann,
        is_online: false,
        connection_count: 0,
      });
    }
    // Give a second announcement time to arrive, then check there was none.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const tab of [both, one, none]) await reply(tab, "ping", {});
    for (const tab of [both, one, none]) {
      expect(
        tab.frames
          .unconsumed()
          .filter((f) => f.type === "status_changed" && f.data.user_id === ann),
      ).toEqual([]);
    }
  });

  it("with two tabs where only one joined, only that tab receives", async () => {
    const group = `group_${uniqueUser("g")}`;
    const user = uniqueUser();
    const joined = await connectAs(user, { staff: true });
    const other = await connectAs(user, { staff: true });
    await join(joined, group);
    const sender = await connectAs(uniqueUser(), { staff: true });
    await join(sender, group);
    await reply(sender, "group_message", { group_name: group, message: "one tab" });
    expect((await joined.frames.next("group_message")).data.message).toBe("one tab");
    await reply(other, "ping", {});
    expect(other.frames.unconsumed("group_message")).toEqual([]);
  });

  // The 500-member case runs end to end (test/e2e/groups.test.ts); inside the test runner's
  // workerd every socket is proxied through the runner, so 100 keeps this file quick.
  it("a server-side send reaches a group of 100 members, each once", async () => {
    const group = `group_${uniqueUser("big")}`;
    const users = Array.from(
      { length: 100 },
      (_, i) => `big-${i}-${Math.random().toString(36).slice(2, 6)}`,
    );
    const sockets: TestSocket[] = [];
    for (let i = 0; i < users.length; i += 50) {
      const batch = await Promise.all(
        users.slice(i, i + 50).map((u) => connectAs(u, { staff: true })),
      );
      await Promise.all(batch.map((s) => join(s, group)));
      sockets.push(...batch);
    }
    const result = await env.ROOM_HUB.getByName(`room:${group}`).publish(group, {
      type: "group_message",
      messageId: crypto.randomUUID(),
      fromUserId: null,
      messageType: "announcement",
      data: { text: "to everyone" },
      sentAt: new Date().toISOString(),
    });
    expect(result.recipients).toBe(100);
    for (const s of sockets) {
      const frame = await s.frames.next("group_message");
      expect(frame.data).toMatchObject({
        group_name: group,
        message_type: "announcement",
        data: { text: "to everyone" },
      });
      expect(s.frames.unconsumed("group_message")).toEqual([]);
    }
  }, 60_000);
});

describe("consultation sockets", () => {
  it("refuses a user without the consultation in their groups claim: 403 before the upgrade", async () => {
    const refused = await consultationUpgrade("c-1", uniqueUser(), {
      groups: ["consultation_other"],
    });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as any).error.code).toBe("forbidden");
  });

  it("sends connection_established then consultation_state, and counts toward presence", async () => {
    const id = uniqueUser("c");
    const doctor = uniqueUser("doc");
    const userTab = await connectAs(doctor, { groups: [`consultation_${id}`] });
    const socket = await consultationSocket(id, doctor, {
      username: "dr",
      groups: [`consultation_${id}`],
    });
    const frames = socket.frames.received;
    expect(frames[0]?.type).toBe("connection_established");
    expect(frames[0]?.data.connection_count).toBe(2);
    const state = await socket.frames.next("consultation_state");
    expect(state.data).toEqual({
      consultation_id: id,
      participants: [{ user_id: doctor, username: "dr", is_online: true }],
    });
    expect((await userTab.frames.next("status_changed")).data.connection_count).toBe(2);
    expect((await env.USER_HUB.getByName(doctor).status()).connection_count).toBe(2);
    socket.ws.close(1000);
    expect((await userTab.frames.next("status_changed")).data.connection_count).toBe(1);
  });

  it("consultation_message reaches participants and user sockets that joined the group, and resumes per room", async () => {
    const id = uniqueUser("c");
    const grant = { groups: [`consultation_${id}`] };
    const [doctor, patient, nurse] = [uniqueUser("doc"), uniqueUser("pat"), uniqueUser("nurse")];
    const d = await consultationSocket(id, doctor, grant);
    const p = await consultationSocket(id, patient, grant);
    const nurseTab = await connectAs(nurse, grant);
    await join(nurseTab, `consultation_${id}`);
    const sent = await reply(d, "consultation_message", { message: "how are you?" });
    expect(sent.data.recipients).toBe(3);
    for (const socket of [d, p]) {
      const frame = await socket.frames.next("consultation_message");
      expect(frame.data).toMatchObject({
        consultation_id: id,
        from_user_id: doctor,
        message: "how are you?",
      });
      expect(frame.seq).toBe(1);
    }
    expect((await nurseTab.frames.next("consultation_message")).data.message).toBe("how are you?");
    const again = await consultationSocket(id, patient, grant);
    again.send({ type: "resume", data: { since_seq: 0 } });
    expect((await again.frames.next("consultation_message")).seq).toBe(1);
    expect((await again.frames.next("resumed")).data).toEqual({
      from_seq: 0,
      to_seq: 1,
      complete: true,
    });
    expect((await reply(nurseTab, "consultation_message", { message: "x" })).data.code).toBe(
      "forbidden",
    );
  });

  it("the RealtimeService's sendToGroup reaches the consultation sockets and the user sockets that joined", async () => {
    const id = uniqueUser("c");
    const group = `consultation_${id}`;
    const grant = { groups: [group] };
    const patient = await consultationSocket(id, uniqueUser("pat"), grant);
    const doctorTab = await connectAs(uniqueUser("doc"), grant);
    await join(doctorTab, group);
    const data = { message: "The doctor has joined", consultation_id: id };
    const sent = await exports.RealtimeService.sendToGroup(group, {
      messageType: "consultation_update",
      data,
    });
    expect(sent.recipients).toBe(2);
    for (const socket of [patient, doctorTab]) {
      const frame = await socket.frames.next("group_message");
      expect(frame.data).toMatchObject({
        message_id: sent.messageId,
        group_name: group,
        from_user_id: "system",
        message_type: "consultation_update",
        data,
      });
    }
  });

  it("a doctor and a patient each see the other's status_changed", async () => {
    const id = uniqueUser("c");
    const grant = { groups: [`consultation_${id}`] };
    const [doctor, patient] = [uniqueUser("doc"), uniqueUser("pat")];
    const d = await consultationSocket(id, doctor, grant);
    const p = await consultationSocket(id, patient, grant);
    const online = await d.frames.next(
      (f) => f.type === "status_changed" && f.data.user_id === patient,
    );
    expect(online.data.is_online).toBe(true);
    p.ws.close(1000);
    const offline = await d.frames.next(
      (f) =>
        f.type === "status_changed" && f.data.user_id === patient && f.data.is_online === false,
    );
    expect(offline.data.connection_count).toBe(0);
    const p2 = await consultationSocket(id, patient, grant);
    d.ws.close(1000);
    const doctorOffline = await p2.frames.next(
      (f) => f.type === "status_changed" && f.data.user_id === doctor && f.data.is_online === false,
    );
    expect(doctorOffline.data.user_id).toBe(doctor);
  });

  it("the lease expires when the room dies and stops renewing it", async () => {
    const id = uniqueUser("c");
    const user = uniqueUser("u");
    await consultationSocket(id, user, { groups: [`consultation_${id}`] });
    const hub = env.USER_HUB.getByName(user);
    expect((await hub.status()).connection_count).toBe(1);
    // Kill the room without running its close handlers, as a crash would.
    await evictDurableObject(env.ROOM_HUB.getByName(`room:consultation_${id}`), {
      webSockets: "close",
    });
    expect((await hub.status()).connection_count).toBe(1);
    // Let the lease run out: move its expiry into the past (in storage, then evict the hub so it
    // reads it back, as after a restart) and run the hub's alarm.
    await runInDurableObject(hub, (_instance, state) => {
      state.storage.sql.exec("UPDATE leases SET expires_at = ?", Date.now() - 1);
    });
    await evictDurableObject(hub);
    await runDurableObjectAlarm(hub);
    const status = await hub.status();
    expect(status.connection_count).toBe(0);
    expect(status.is_online).toBe(false);
  });
});
