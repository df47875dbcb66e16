import { describe, expect, it } from "vitest";
import { sleep } from "../../helpers/frames.ts";
import { gatewayPerTest, nextEvent, reaches, record } from "./fake-gateway.ts";

const harness = gatewayPerTest();

/** Every socket announces a 50 ms heartbeat interval. */
function fastHeartbeat() {
  harness.gateway.script.onConnect = (peer) => peer.establish({ heartbeat_interval_ms: 50 });
}

describe("heartbeat", () => {
  it("sends the exact ping frame every heartbeat_interval_ms and stays open while pongs come", async () => {
    fastHeartbeat();
    const client = harness.client();
    const closes = record(client, "close");
    await client.opened();
    const peer = await harness.gateway.peer(0);
    await sleep(330);
    // Peer counts only frames that are exactly {"type":"ping"}; anything else lands in `frames`.
    // One at open, then one per interval.
    expect(peer.pings).toBeGreaterThanOrEqual(5);
    expect(peer.pings).toBeLessThanOrEqual(8);
    expect(peer.frames.unconsumed()).toEqual([]);
    expect(closes).toEqual([]);
    expect(client.state).toBe("open");
  });

  it("sends one ping as soon as the socket opens, long before the first interval", async () => {
    // The gateway's default interval is 25 s; a socket that has sent a data frame lets workerd
    // complete a close the server starts at once instead of ~10 s later (docs/design.md).
    const client = harness.client();
    await client.opened();
    const peer = await harness.gateway.peer(0);
    await sleep(50);
    expect(peer.pings).toBe(1);
  });

  it("lets the heartbeatIntervalMs option override the gateway's interval", async () => {
    const client = harness.client({ heartbeatIntervalMs: 40 });
    await client.opened();
    await sleep(150);
    expect((await harness.gateway.peer(0)).pings).toBeGreaterThanOrEqual(2);
  });

  it("closes a connection that delivers no frame for two intervals and reconnects", async () => {
    fastHeartbeat();
    const client = harness.client();
    await client.opened();
    const peer = await harness.gateway.peer(0);
    const closing = nextEvent(client, "close");
    const silentSince = Date.now();
    peer.answerPings = false;
    const closed = await closing;
    const silentFor = Date.now() - silentSince;
    expect(closed).toMatchObject({ code: 1006, reason: "heartbeat timeout", willReconnect: true });
    expect(silentFor).toBeGreaterThanOrEqual(60);
    expect(silentFor).toBeLessThan(1_000);
    await harness.gateway.peer(1);
    await reaches(client, "open");
    // The abandoned socket was closed from the client side, with a reason the server can log.
    expect(await peer.frames.waitClosed()).toEqual({ code: 4000, reason: "heartbeat timeout" });
  });

  it("counts any frame as a sign of life, not just pongs", async () => {
    fastHeartbeat();
    const client = harness.client();
    const closes = record(client, "close");
    await client.opened();
    const peer = await harness.gateway.peer(0);
    peer.answerPings = false;
    const chatter = setInterval(() => peer.send({ type: "status_changed", data: {} }), 30);
    await sleep(300);
    clearInterval(chatter);
    expect(closes).toEqual([]);
  });
});
