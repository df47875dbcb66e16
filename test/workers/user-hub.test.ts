import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { mintToken } from "../helpers/tokens.ts";
import { connectAs, uniqueUser, upgrade, wrapSocket } from "./helpers.ts";

describe("UserHub sockets", () => {
  it("sends connection_established first, with the user's identity and count", async () => {
    const user = uniqueUser();
    const socket = await connectAs(user, { username: "ann" });
    const first = socket.frames.received[0];
    expect(first?.type).toBe("connection_established");
    expect(first?.data).toMatchObject({
      user_id: user,
      username: "ann",
      is_online: true,
      connection_count: 1,
      last_seq: 0,
      heartbeat_interval_ms: 25_000,
    });
    expect(first?.data.connection_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("counts every tab and tells the other tabs when the count changes", async () => {
    const user = uniqueUser();
    const a = await connectAs(user);
    const b = await connectAs(user);
    expect((await b.established).data.connection_count).toBe(2);
    expect((await a.frames.next("status_changed")).data).toMatchObject({
      user_id: user,
      is_online: true,
      connection_count: 2,
    });
    b.ws.close(1000, "bye");
    expect((await a.frames.next("status_changed")).data.connection_count).toBe(1);
    a.send({ type: "get_status", id: "s1" });
    const status = await a.frames.next("status_response");
    expect(status.id).toBe("s1");
    expect(status.data).toMatchObject({ user_id: user, is_online: true, connection_count: 1 });
  });

  it("reciprocates the client's close, so the client sees its own code and never 1006", async () => {
    const socket = await connectAs(uniqueUser());
    socket.ws.close(4321, "leaving");
    const closed = await socket.frames.waitClosed();
    expect(closed.code).toBe(4321);
  });

  it("answers pings with the request id echoed", async () => {
    const socket = await connectAs(uniqueUser());
    socket.send({ type: "ping", id: "p1" });
    const pong = await socket.frames.next("pong");
    expect(pong.id).toBe("p1");
    expect(Date.parse(pong.data.server_time)).not.toBeNaN();
  });

  it("answers the exact ping frame from the runtime, without running the actor", async () => {
    const user = uniqueUser();
    const socket = await connectAs(user);
    socket.send('{"type":"ping"}');
    const pong = await socket.frames.next("pong");
    expect(pong).toEqual({ type: "pong" });
    const stub = env.USER_HUB.getByName(user);
    const pinged = await runInDurableObject(stub, (_hub, state) =>
      state.getWebSocketAutoResponseTimestamp(state.getWebSockets()[0] as WebSocket),
    );
    expect(pinged).toBeInstanceOf(Date);
  });

  it("answers bad frames with typed errors and keeps the socket open", async () => {
    const socket = await connectAs(uniqueUser());
    const cases: [string, string][] = [
      ["not json", "invalid_json"],
      ["[1,2]", "invalid_message"],
      ['{"data":{}}', "invalid_message"],
      ['{"type":"launch_rockets"}', "unknown_type"],
      ['{"type":"send_message","data":{"target_user_id":"b","message":""}}', "validation_failed"],
      [JSON.stringify({ type: "ping", data: "x".repeat(70_000) }), "message_too_large"],
    ];
    for (const [frame, code] of cases) {
      socket.send(frame);
      expect((await socket.frames.next("error")).data.code).toBe(code);
    }
    socket.ws.send(new Uint8Array([1, 2, 3]));
    expect((await socket.frames.next("error")).data.code).toBe("invalid_message");
    socket.send({ type: "ping", id: "still-open" });
    expect((await socket.frames.next("pong")).id).toBe("still-open");
  });

  it("names the failing field in validation errors and echoes the request id", async () => {
    const socket = await connectAs(uniqueUser());
    socket.send({
      type: "send_message",
      id: "m1",
      data: { target_user_id: "bad id!", message: "hi" },
    });
    const error = await socket.frames.next("error");
    expect(error.id).toBe("m1");
    expect(error.data.details.field).toBe("data.target_user_id");
  });

  it("refuses the connection over MAX_CONNECTIONS_PER_USER with close 4009", async () => {
    const user = uniqueUser();
    for (let i = 0; i < 5; i++) await connectAs(user);
    const token = await mintToken(user);
    const response = await upgrade(`/ws/user/?token=${token}`);
    expect(response.status).toBe(101);
    const extra = wrapSocket(response.webSocket as WebSocket);
    const closed = await extra.frames.waitClosed();
    expect(closed.code).toBe(4009);
    expect(extra.frames.received.find((f) => f.type === "connection_established")).toBeUndefined();
  });

  it("rate-limits a flood with retry_after_ms, then closes sustained abuse with 1008", async () => {
    const socket = await connectAs(uniqueUser());
    for (let i = 0; i < 200; i++) socket.send({ type: "ping", id: i });
    const limited = await socket.frames.next("error");
    expect(limited.data.code).toBe("rate_limited");
    expect(limited.data.retry_after_ms).toBeGreaterThan(0);
    expect((await socket.frames.waitClosed()).code).toBe(1008);
    // The burst of 40 (plus what refilled meanwhile at 20/s) was served, not the whole flood.
    const served = socket.frames.received.filter((f) => f.type === "pong").length;
    expect(served).toBeGreaterThanOrEqual(40);
    expect(served).toBeLessThan(60);
  });
});

describe("UserHub after hibernation", () => {
  it("keeps sockets, counts and attachments across an eviction", async () => {
    const user = uniqueUser();
    const a = await connectAs(user, { username: "bob" });
    const b = await connectAs(user, { username: "bob" });
    await a.frames.next("status_changed");
    const stub = env.USER_HUB.getByName(user);
    await evictDurableObject(stub, { webSockets: "hibernate" });

    a.send({ type: "get_status", id: "after" });
    const status = await a.frames.next("status_response");
    expect(status.data.connection_count).toBe(2);
    expect(status.data.connection_id).toBe((await a.established).data.connection_id);

    b.ws.close(1000);
    expect((await b.frames.waitClosed()).code).toBe(1000);
    expect((await a.frames.next("status_changed")).data.connection_count).toBe(1);
    expect((await stub.status()).connection_count).toBe(1);
  });
});

describe("UserHub token expiry", () => {
  it("sends token_expired and closes 4001 once exp + 30 s has passed", async () => {
    const user = uniqueUser();
    // exp 20 s ago is still inside the 30 s tolerance, so the connection is accepted.
    const socket = await connectAs(user, { expiresIn: -20 });
    const stub = env.USER_HUB.getByName(user);
    // The alarm is due in ~10 s; run it now after moving the deadline into the past.
    await runInDurableObject(stub, async (_hub, state) => {
      const ws = state.getWebSockets()[0] as WebSocket;
      const attachment = ws.deserializeAttachment() as { expiresAt: number };
      ws.serializeAttachment({ ...attachment, expiresAt: attachment.expiresAt - 60 });
    });
    await evictDurableObject(stub, { webSockets: "hibernate" });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const error = await socket.frames.next("error");
    expect(error.data.code).toBe("token_expired");
    expect((await socket.frames.waitClosed()).code).toBe(4001);
  });

  it("refresh_token with a later exp for the same user moves the expiry", async () => {
    const user = uniqueUser();
    const socket = await connectAs(user, { expiresIn: 60 });
    socket.send({
      type: "refresh_token",
      id: "r",
      data: { token: await mintToken(user, { expiresIn: 7200 }) },
    });
    const refreshed = await socket.frames.next("token_refreshed");
    expect(refreshed.id).toBe("r");
    expect(Date.parse(refreshed.data.expires_at)).toBeGreaterThan(Date.now() + 7000_000);

    socket.send({
      type: "refresh_token",
      id: "x",
      data: { token: await mintToken("someone-else", { expiresIn: 9000 }) },
    });
    const refused = await socket.frames.next("error");
    expect(refused).toMatchObject({ id: "x", data: { code: "unauthorized" } });
  });
});
