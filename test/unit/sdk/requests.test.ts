import { describe, expect, it } from "vitest";
import { RealtimeError } from "../../../src/sdk/client.ts";
import { sleep } from "../../helpers/frames.ts";
import { gatewayPerTest, nextEvent } from "./fake-gateway.ts";

const harness = gatewayPerTest();

async function openClient(options = {}) {
  const client = harness.client(options);
  await client.opened();
  return { client, peer: await harness.gateway.peer(0) };
}

describe("request/reply", () => {
  it("sends the command with an id and resolves with the reply that echoes it", async () => {
    const { client, peer } = await openClient();
    const reply = client.request("get_status", { user_ids: ["u2", 7] });
    const request = await peer.next("get_status");
    expect(request).toEqual({ type: "get_status", data: { user_ids: ["u2", 7] }, id: "c1" });
    peer.send({ type: "status_changed", data: { user_id: "u1" } });
    peer.reply(request, "status_response", { user_id: "u1", groups: [] });
    const frame = await reply;
    expect(frame).toMatchObject({ type: "status_response", id: "c1", data: { user_id: "u1" } });
  });

  it("rejects with the gateway's code, details and retry_after_ms on an error reply", async () => {
    const { client, peer } = await openClient();
    const sent = client.sendMessage("u2", "hi");
    const request = await peer.next("send_message");
    expect(request.data).toEqual({ target_user_id: "u2", message: "hi" });
    peer.reply(request, "error", {
      code: "rate_limited",
      message: "too many frames",
      details: { limit: 20 },
      retry_after_ms: 250,
    });
    const error = await sent.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RealtimeError);
    expect(error).toMatchObject({
      code: "rate_limited",
      message: "too many frames",
      details: { limit: 20 },
      retryAfterMs: 250,
    });
  });

  it("rejects an overloaded gateway's refusal as a temporary unavailable with retryAfterMs", async () => {
    const { client, peer } = await openClient();
    const sent = client.sendMessage("u2", "hi");
    const request = await peer.next("send_message");
    peer.reply(request, "error", {
      code: "unavailable",
      message: "too many messages in flight from this user; retry shortly",
      retry_after_ms: 1_000,
    });
    const error = await sent.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RealtimeError);
    expect(error).toMatchObject({ code: "unavailable", retryAfterMs: 1_000, temporary: true });
    expect(new RealtimeError("timeout", "no reply").temporary).toBe(false);
  });

  it("rejects with timeout when no reply comes in time", async () => {
    const { client, peer } = await openClient({ requestTimeoutMs: 5_000 });
    const started = Date.now();
    await expect(client.request("ping", undefined, { timeoutMs: 80 })).rejects.toMatchObject({
      code: "timeout",
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
    expect((await peer.next("ping")).id).toBe("c1");
  });

  it("rejects with connection_closed when the socket closes before the reply", async () => {
    const { client, peer } = await openClient();
    const status = client.getStatus().catch((e: unknown) => e);
    await peer.next("get_status");
    await peer.close(1001);
    expect(await status).toMatchObject({ code: "connection_closed" });
  });

  it("rejects with closed after close(), and at once for requests made afterwards", async () => {
    const { client, peer } = await openClient();
    const status = client.getStatus();
    await peer.next("get_status");
    client.close();
    await expect(status).rejects.toMatchObject({ code: "closed" });
    await expect(client.ping()).rejects.toMatchObject({ code: "closed" });
  });

  it("maps the convenience methods to their commands and resolves with the reply data", async () => {
    const { client, peer } = await openClient();
    const calls = [
      [client.ping(), "ping", undefined, "pong", { server_time: "t" }],
      [client.getStatus(), "get_status", undefined, "status_response", { user_id: "u1" }],
      [
        client.sendMessage(42, "hi", "note"),
        "send_message",
        { target_user_id: 42, message: "hi", message_type: "note" },
        "message_sent",
        { message_id: "m1", recipients: 1, delivered: true },
      ],
      [
        client.broadcast("all hands"),
        "broadcast",
        { message: "all hands" },
        "message_sent",
        { message_id: "m2", recipients: 3, delivered: true },
      ],
      [
        client.joinGroup("group_a", "sub-jwt"),
        "join_group",
        { group_name: "group_a", token: "sub-jwt" },
        "group_joined",
        { group_name: "group_a", member_count: 2 },
      ],
      [
        client.groupMessage("group_a", "hello"),
        "group_message",
        { group_name: "group_a", message: "hello" },
        "message_sent",
        { message_id: "m3", group_name: "group_a", recipients: 2, delivered: true },
      ],
      [
        client.leaveGroup("group_a"),
        "leave_group",
        { group_name: "group_a" },
        "group_left",
        { group_name: "group_a", member_count: 1 },
      ],
      [
        client.consultationMessage("doctor?"),
        "consultation_message",
        { message: "doctor?" },
        "message_sent",
        { message_id: "m4", recipients: 1, delivered: true },
      ],
    ] as const;
    for (const [promise, type, data, replyType, replyData] of calls) {
      const request = await peer.next(type);
      expect(request.data).toEqual(data);
      peer.reply(request, replyType, replyData);
      expect(await promise).toEqual(replyData);
    }
  });
});

describe("frame handlers", () => {
  it("see frames by type, not replies to requests, and stop after unsubscribing", async () => {
    const { client, peer } = await openClient();
    const seen: string[] = [];
    const everything: string[] = [];
    const off = client.on("status_changed", (frame) =>
      seen.push(String(frame.data.connection_count)),
    );
    // The runtime's answer to the client's opening ping is a frame like any other; not counted here.
    client.on("*", (frame) => frame.type !== "pong" && everything.push(frame.type));
    const status = client.getStatus();
    const request = await peer.next("get_status");
    peer.send({ type: "status_changed", data: { user_id: "u1", connection_count: 2 } });
    peer.reply(request, "status_response", { user_id: "u1" });
    await status;
    off();
    peer.send({ type: "status_changed", data: { user_id: "u1", connection_count: 3 } });
    await sleep(50);
    expect(seen).toEqual(["2"]);
    expect(everything).toEqual(["status_changed", "status_changed"]);
  });

  it("see an error frame without an id, e.g. a rejected frame", async () => {
    const { client, peer } = await openClient();
    const errors = new Promise((resolve) => client.on("error", (frame) => resolve(frame.data)));
    peer.send({
      type: "error",
      data: { code: "invalid_json", message: "frame is not valid JSON" },
    });
    expect(await errors).toEqual({ code: "invalid_json", message: "frame is not valid JSON" });
  });

  it("keep delivering to other handlers when one throws", async () => {
    const { client, peer } = await openClient();
    const failure = new Promise((resolve) => process.once("uncaughtException", resolve));
    client.on("notification", () => {
      throw new Error("handler bug");
    });
    const delivered = new Promise((resolve) => client.on("notification", resolve));
    peer.mail(1, "notification");
    await delivered;
    expect(((await failure) as Error).message).toBe("handler bug");
  });

  it("report an unreadable frame as an invalid_frame error event", async () => {
    const { client, peer } = await openClient();
    const error = nextEvent(client, "error");
    peer.ws.send("not json");
    expect((await error).code).toBe("invalid_frame");
  });
});
