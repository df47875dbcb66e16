// @vitest-environment happy-dom
/**
 * `useRealtime` in a React tree (React Testing Library, happy-dom) against the scripted gateway
 * of the SDK tests: a real `ws` server the test drives frame by frame, reached through
 * happy-dom's global WebSocket as a page's code would.
 */
import { act, cleanup, renderHook, waitFor } from "@testing-library/react";
import { StrictMode } from "react";
import { afterEach, describe, expect, it } from "vitest";
import { type UseRealtimeOptions, useRealtime } from "../../../src/react/index.ts";
import { sleep } from "../../helpers/frames.ts";
import { FAST_BACKOFF, gatewayPerTest } from "../sdk/fake-gateway.ts";

const harness = gatewayPerTest();
afterEach(cleanup);

/** An unsigned JWT naming `userId` (the fake gateway reads it, it does not verify it). */
function tokenFor(userId: string, nonce = 0): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "HS256" })}.${part({ user_id: userId, nonce })}.sig`;
}

function mount(initial: Partial<UseRealtimeOptions> = {}) {
  return renderHook(
    (props: Partial<UseRealtimeOptions>) =>
      useRealtime({
        url: harness.gateway.url,
        token: tokenFor("u1"),
        backoff: FAST_BACKOFF,
        ...props,
      }),
    { initialProps: initial },
  );
}

describe("useRealtime", () => {
  it("shows connecting, then open with the connection once the gateway establishes it", async () => {
    harness.gateway.script.onConnect = () => undefined;
    const { result } = mount();
    await waitFor(() => expect(result.current.state).toBe("connecting"));
    const peer = await harness.gateway.peer(0);
    peer.establish({ user_id: "u1", username: "ann" });
    await waitFor(() => expect(result.current.state).toBe("open"));
    expect(result.current.connection).toMatchObject({ user_id: "u1", username: "ann" });
  });

  it("keeps one client across re-renders, even with a new token function each time", async () => {
    const { result, rerender } = mount({ token: () => tokenFor("u1") });
    await waitFor(() => expect(result.current.state).toBe("open"));
    const client = result.current.client;
    const send = result.current.send;
    for (let i = 0; i < 5; i += 1) rerender({ token: () => tokenFor("u1"), presenceOf: [] });
    await sleep(50);
    expect(harness.gateway.peers).toHaveLength(1);
    expect(result.current.client).toBe(client);
    expect(result.current.send).toBe(send);
  });

  it("closes the socket when the component unmounts", async () => {
    const { result, unmount } = mount();
    await waitFor(() => expect(result.current.state).toBe("open"));
    const peer = await harness.gateway.peer(0);
    const client = result.current.client;
    unmount();
    expect(await peer.frames.waitClosed()).toMatchObject({ code: 1000 });
    expect(client?.state).toBe("closed");
    await sleep(50);
    expect(harness.gateway.peers).toHaveLength(1);
  });

  it("under StrictMode's mount, unmount, mount, leaves exactly one socket open", async () => {
    const { result } = renderHook(
      () => useRealtime({ url: harness.gateway.url, token: tokenFor("u1"), backoff: FAST_BACKOFF }),
      { wrapper: StrictMode },
    );
    await waitFor(() => expect(result.current.state).toBe("open"));
    await sleep(50);
    const open = harness.gateway.peers.filter((peer) => peer.ws.readyState === peer.ws.OPEN);
    expect(open).toHaveLength(1);
  });

  it("asks for the watched users' presence on open and follows status_changed", async () => {
    const { result, rerender } = mount({ presenceOf: ["u2", 3] });
    const peer = await harness.gateway.peer(0);
    const query = await peer.next("get_status");
    expect(query.data).toEqual({ user_ids: ["u2", "3"] });
    peer.reply(query, "status_response", {
      user_id: "u1",
      is_online: true,
      connection_count: 1,
      connection_id: "c",
      groups: [],
      users: [
        { user_id: "u2", is_online: true, last_seen: null },
        { user_id: "3", is_online: false, last_seen: "2026-12-05T10:00:00.000Z" },
      ],
    });
    await waitFor(() =>
      expect(result.current.presence).toEqual({
        u2: { isOnline: true, lastSeen: null },
        "3": { isOnline: false, lastSeen: "2026-12-05T10:00:00.000Z" },
      }),
    );

    peer.send({
      type: "status_changed",
      data: {
        user_id: "u2",
        is_online: false,
        connection_count: 0,
        last_seen: "2026-12-05T11:00:00.000Z",
      },
    });
    await waitFor(() =>
      expect(result.current.presence.u2).toEqual({
        isOnline: false,
        lastSeen: "2026-12-05T11:00:00.000Z",
      }),
    );

    // Watching another user asks for that one only; an unwatched user drops out.
    rerender({ presenceOf: ["u2", "u4"] });
    const more = await peer.next("get_status");
    expect(more.data).toEqual({ user_ids: ["u4"] });
    await waitFor(() => expect(Object.keys(result.current.presence)).toEqual(["u2"]));
  });

  it("keeps the last frame of each type", async () => {
    const { result } = mount();
    await waitFor(() => expect(result.current.state).toBe("open"));
    const peer = await harness.gateway.peer(0);
    peer.mail(1);
    peer.mail(2);
    peer.send({
      type: "notification",
      seq: 3,
      data: { notification_id: "n1", title: "Hi", message: "there", data: {}, created_at: "" },
    });
    await waitFor(() => expect(result.current.last.notification?.data.title).toBe("Hi"));
    expect(result.current.last.user_message).toMatchObject({
      seq: 2,
      data: { message: "message 2" },
    });
  });

  it("send sends a direct message and resolves with the gateway's reply", async () => {
    const { result } = mount();
    await waitFor(() => expect(result.current.state).toBe("open"));
    const peer = await harness.gateway.peer(0);
    let reply: Promise<unknown> = Promise.resolve();
    act(() => {
      reply = result.current.send("u2", "hello", "chat_message");
    });
    const request = await peer.next("send_message");
    expect(request.data).toEqual({
      target_user_id: "u2",
      message: "hello",
      message_type: "chat_message",
    });
    peer.reply(request, "message_sent", {
      message_id: "m9",
      recipients: 1,
      delivered: true,
      sent_at: "",
    });
    expect(await reply).toMatchObject({ message_id: "m9", delivered: true });
  });

  it("a new token for the same user reconnects with it and resumes after the last message", async () => {
    const { result, rerender } = mount({ token: tokenFor("u1", 1) });
    await waitFor(() => expect(result.current.state).toBe("open"));
    const first = await harness.gateway.peer(0);
    first.mail(1);
    first.mail(2);
    await waitFor(() => expect(result.current.last.user_message?.seq).toBe(2));

    harness.gateway.script.onConnect = (peer) => peer.establish({ user_id: "u1", last_seq: 4 });
    rerender({ token: tokenFor("u1", 2) });
    expect((await first.frames.waitClosed()).code).toBe(1000);
    const second = await harness.gateway.peer(1);
    expect(second.token).toBe(tokenFor("u1", 2));
    expect((await second.next("resume")).data).toEqual({ since_seq: 2 });
  });

  it("a token for another user starts that user's connection from the present", async () => {
    const { result, rerender } = mount({ token: tokenFor("u1") });
    await waitFor(() => expect(result.current.state).toBe("open"));
    const first = await harness.gateway.peer(0);
    first.mail(1);
    await waitFor(() => expect(result.current.last.user_message?.seq).toBe(1));

    harness.gateway.script.onConnect = (peer) => peer.establish({ user_id: "u9", last_seq: 4 });
    rerender({ token: tokenFor("u9") });
    const second = await harness.gateway.peer(1);
    await waitFor(() => expect(result.current.connection?.user_id).toBe("u9"));
    // The first frame it sends (heartbeats aside) is this request: no resume of u1's seqs.
    act(() => void result.current.request("get_status").catch(() => undefined));
    const next = await second.frames.next(() => true);
    expect(next.type).toBe("get_status");
    expect(result.current.last.user_message).toBeUndefined();
  });

  it("does not connect while disabled, and connects once enabled", async () => {
    const { result, rerender } = mount({ enabled: false });
    await sleep(50);
    expect(harness.gateway.peers).toHaveLength(0);
    expect(result.current.state).toBe("idle");
    await expect(result.current.send("u2", "x")).rejects.toMatchObject({ code: "closed" });
    rerender({ enabled: true });
    await waitFor(() => expect(result.current.state).toBe("open"));
  });
});
