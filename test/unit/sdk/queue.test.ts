import { describe, expect, it } from "vitest";
import { sleep } from "../../helpers/frames.ts";
import { gatewayPerTest } from "./fake-gateway.ts";

const harness = gatewayPerTest();

/** Long enough between attempts that the test can act while the client is disconnected. */
const SLOW_BACKOFF = { minDelayMs: 200, maxDelayMs: 200, growFactor: 1 };

describe("send queue while disconnected", () => {
  it("queues requests while reconnecting and sends them in order on the next socket", async () => {
    const client = harness.client({ backoff: SLOW_BACKOFF, random: () => 0.99 });
    await client.opened();
    await (await harness.gateway.peer(0)).close(1001);
    expect(client.state).toBe("reconnecting");
    const replies = ["one", "two", "three"].map((text) => client.sendMessage("u2", text));
    const peer = await harness.gateway.peer(1);
    for (const [index, text] of ["one", "two", "three"].entries()) {
      const request = await peer.next("send_message");
      expect(request.data.message).toBe(text);
      peer.reply(request, "message_sent", { message_id: `m${index}`, recipients: 1 });
    }
    expect((await Promise.all(replies)).map((r) => r.message_id)).toEqual(["m0", "m1", "m2"]);
  });

  it("queues before the first connect when autoConnect is off", async () => {
    const client = harness.client({ autoConnect: false });
    const status = client.getStatus();
    client.connect();
    const peer = await harness.gateway.peer(0);
    const request = await peer.next("get_status");
    peer.reply(request, "status_response", { user_id: "u1" });
    expect((await status).user_id).toBe("u1");
  });

  it("rejects a new request with queue_full when the queue is full, keeping the older ones", async () => {
    const client = harness.client({
      backoff: SLOW_BACKOFF,
      random: () => 0.99,
      maxQueuedFrames: 2,
    });
    await client.opened();
    await (await harness.gateway.peer(0)).close(1001);
    const kept = [client.sendMessage("u2", "a"), client.sendMessage("u2", "b")];
    await expect(client.sendMessage("u2", "c")).rejects.toMatchObject({ code: "queue_full" });
    const peer = await harness.gateway.peer(1);
    const sent = [await peer.next("send_message"), await peer.next("send_message")];
    expect(sent.map((f) => f.data.message)).toEqual(["a", "b"]);
    for (const request of sent) peer.reply(request, "message_sent", { message_id: "m" });
    await Promise.all(kept);
    await sleep(30);
    expect(peer.frames.unconsumed("send_message")).toEqual([]);
  });

  it("rejects at once while disconnected with maxQueuedFrames 0", async () => {
    const client = harness.client({ backoff: SLOW_BACKOFF, maxQueuedFrames: 0 });
    await client.opened();
    await (await harness.gateway.peer(0)).close(1001);
    await expect(client.ping()).rejects.toMatchObject({ code: "queue_full" });
  });

  it("withdraws a queued request that timed out, so it is never sent", async () => {
    const client = harness.client({ backoff: SLOW_BACKOFF, random: () => 0.99 });
    await client.opened();
    await (await harness.gateway.peer(0)).close(1001);
    await expect(
      client.sendMessage("u2", "stale", undefined, { timeoutMs: 50 }),
    ).rejects.toMatchObject({ code: "timeout" });
    const fresh = client.getStatus().catch(() => {});
    const peer = await harness.gateway.peer(1);
    expect((await peer.frames.next(() => true)).type).toBe("get_status");
    client.close();
    await fresh;
  });

  it("rejects queued requests with closed when the client closes", async () => {
    const client = harness.client({ backoff: SLOW_BACKOFF, random: () => 0.99 });
    await client.opened();
    await (await harness.gateway.peer(0)).close(1001);
    const queued = client.getStatus();
    client.close();
    await expect(queued).rejects.toMatchObject({ code: "closed" });
  });
});
