import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Disconnects } from "../../../src/protocol/errors.ts";
import { createClient } from "../../../src/sdk/client.ts";
import { sleep } from "../../helpers/frames.ts";
import { gatewayPerTest, nextEvent, reaches, record } from "./fake-gateway.ts";

const harness = gatewayPerTest();

describe("connecting", () => {
  it("goes idle → connecting → open and hands out connection_established", async () => {
    const client = harness.client({ autoConnect: false });
    const states = record(client, "state");
    expect(client.state).toBe("idle");
    client.connect();
    const established = await client.opened();
    expect(established.user_id).toBe("u1");
    expect(client.state).toBe("open");
    expect(client.connection).toEqual(established);
    expect(states.map((s) => s.state)).toEqual(["connecting", "open"]);
  });

  it("sends the token as the bearer subprotocol by default, or in the query", async () => {
    const first = harness.client({ token: "tok-a" });
    await first.opened();
    const second = harness.client({ token: "tok-b", tokenTransport: "query" });
    await second.opened();
    const [a, b] = harness.gateway.peers;
    expect([a?.via, a?.token]).toEqual(["protocol", "tok-a"]);
    expect([b?.via, b?.token]).toEqual(["query", "tok-b"]);
  });

  it("accepts an http(s) url and an injected WebSocket class such as ws's", async () => {
    const url = harness.gateway.url.replace(/^ws/, "http");
    const client = harness.client({ url, WebSocket });
    await client.opened();
    expect(harness.gateway.peers).toHaveLength(1);
  });

  it("refuses misuse when the client is built", () => {
    expect(() => createClient({ url: "ftp://x/", token: "t", autoConnect: false })).toThrow(
      TypeError,
    );
    expect(() => createClient({ url: "not a url", token: "t", autoConnect: false })).toThrow(
      TypeError,
    );
    expect(() =>
      createClient({
        url: "ws://x/",
        token: "t",
        autoConnect: false,
        backoff: { minDelayMs: 10, maxDelayMs: 1 },
      }),
    ).toThrow(TypeError);
  });

  it("counts as open only once connection_established arrives", async () => {
    harness.gateway.script.onConnect = () => {};
    const client = harness.client();
    const peer = await harness.gateway.peer(0);
    await sleep(50);
    expect(client.state).toBe("connecting");
    peer.establish();
    await client.opened();
  });

  it("gives up on a connection attempt after connectTimeoutMs and tries again", async () => {
    harness.gateway.script.onConnect = (peer, index) => {
      if (index > 0) peer.establish();
    };
    const client = harness.client({ connectTimeoutMs: 100 });
    const closed = await nextEvent(client, "close");
    expect(closed).toMatchObject({ code: 1006, reason: "connect timeout", willReconnect: true });
    await client.opened();
    expect(harness.gateway.peers).toHaveLength(2);
  });

  it("calls the token provider before every connect", async () => {
    let calls = 0;
    const client = harness.client({ token: async () => `tok-${++calls}` });
    await client.opened();
    await (await harness.gateway.peer(0)).close(1001, "going away");
    await harness.gateway.peer(1);
    await reaches(client, "open");
    expect(harness.gateway.peers.map((p) => p.token)).toEqual(["tok-1", "tok-2"]);
  });

  it("reports a failing token provider and retries with backoff", async () => {
    let calls = 0;
    const client = harness.client({
      token: () => {
        calls += 1;
        if (calls === 1) throw new Error("auth server down");
        return "tok";
      },
    });
    const error = await nextEvent(client, "error");
    expect(error.code).toBe("token_provider_failed");
    await client.opened();
    expect(calls).toBe(2);
  });
});

describe("reconnecting", () => {
  for (const [code, how] of [
    [1001, "going away"],
    [1011, "internal error"],
    [1000, "normal closure from the server"],
  ] as const) {
    it(`reconnects after the server closes with ${code} (${how})`, async () => {
      const client = harness.client();
      await client.opened();
      const states = record(client, "state");
      const closes = record(client, "close");
      await (await harness.gateway.peer(0)).close(code, how);
      await harness.gateway.peer(1);
      await reaches(client, "open");
      expect(states.map((s) => s.state)).toEqual(["reconnecting", "open"]);
      expect(closes[0]).toMatchObject({ code, reason: how, willReconnect: true });
      expect(closes[0]?.delayMs).toBeLessThan(10);
    });
  }

  it("reconnects after the TCP connection drops without a close frame (1006)", async () => {
    const client = harness.client();
    await client.opened();
    const closing = nextEvent(client, "close");
    (await harness.gateway.peer(0)).ws.terminate();
    expect(await closing).toMatchObject({ code: 1006, willReconnect: true });
    await harness.gateway.peer(1);
    await reaches(client, "open");
  });

  it("keeps trying while the server is unreachable, growing the delay up to its cap", async () => {
    const client = harness.client({ random: () => 0.999 });
    await client.opened();
    const closes = record(client, "close");
    const url = harness.gateway.url;
    await harness.gateway.close();
    await nextEvent(client, "close", () => closes.length >= 4, 3_000);
    // FAST_BACKOFF: 10 ms doubling, capped at 40 ms; random 0.999 takes nearly the whole cap.
    expect(closes.slice(0, 4).map((c) => c.delayMs)).toEqual([9, 19, 39, 39]);
    expect(client.state).toBe("reconnecting");
    expect(url).toContain("127.0.0.1");
  });

  it("stops after maxRetries failed attempts in a row", async () => {
    const client = harness.client({ maxRetries: 2 });
    await client.opened();
    await harness.gateway.close();
    const final = await nextEvent(client, "close", (c) => !c.willReconnect);
    expect(final.code).toBe(1006);
    expect(client.state).toBe("closed");
  });

  it("resets the retry count once a connection is established again", async () => {
    const client = harness.client({ random: () => 0.999 });
    await client.opened();
    const closes = record(client, "close");
    for (const index of [0, 1, 2]) {
      await (await harness.gateway.peer(index)).close(1001);
      await harness.gateway.peer(index + 1);
      await reaches(client, "open");
    }
    expect(closes.map((c) => c.delayMs)).toEqual([9, 9, 9]);
  });
});

describe("closes from the gateway's disconnect table", () => {
  for (const [name, row] of Object.entries(Disconnects)) {
    if (row.code === 1000) continue; // 1000 is only the answer to the client's own close
    const expected = row.reconnect === "yes";
    it(`${expected ? "reconnects" : "does not reconnect"} after ${name} (${row.code}) with a fixed token`, async () => {
      const client = harness.client({ token: "fixed" });
      await client.opened();
      const closing = nextEvent(client, "close");
      await (await harness.gateway.peer(0)).close(row.code, row.reason);
      expect(await closing).toMatchObject({ code: row.code, willReconnect: expected });
      client.close();
    });
  }
});

describe("terminal closes", () => {
  for (const [code, why] of [
    [4003, "forbidden"],
    [4009, "too many connections"],
    [1008, "rate limit abuse"],
  ] as const) {
    it(`does not reconnect after ${code} (${why})`, async () => {
      const client = harness.client();
      await client.opened();
      const closing = nextEvent(client, "close");
      await (await harness.gateway.peer(0)).close(code, why);
      expect(await closing).toEqual({ code, reason: why, willReconnect: false });
      expect(client.state).toBe("closed");
      await sleep(100);
      expect(harness.gateway.peers).toHaveLength(1);
    });
  }

  it("stops after 4009 even when the socket never got connection_established", async () => {
    harness.gateway.script.onConnect = (peer) => {
      peer.send({ type: "error", data: { code: "too_many_connections", message: "too many" } });
      peer.ws.close(4009, "too many connections");
    };
    const client = harness.client();
    const errors: unknown[] = [];
    client.on("error", (frame) => errors.push(frame.data.code));
    await expect(client.opened()).rejects.toMatchObject({
      code: "closed",
      details: { close_code: 4009 },
    });
    expect(errors).toEqual(["too_many_connections"]);
  });

  it("treats 4001 as terminal with a fixed token string", async () => {
    const client = harness.client({ token: "fixed" });
    await client.opened();
    const closing = nextEvent(client, "close");
    await (await harness.gateway.peer(0)).close(4001, "token expired");
    expect(await closing).toMatchObject({ code: 4001, willReconnect: false });
    expect(client.state).toBe("closed");
  });

  it("reconnects after 4001 with a fresh token when the token is a provider", async () => {
    let calls = 0;
    const client = harness.client({ token: () => `tok-${++calls}` });
    await client.opened();
    const closing = nextEvent(client, "close");
    await (await harness.gateway.peer(0)).close(4001, "token expired");
    expect(await closing).toMatchObject({ code: 4001, willReconnect: true });
    expect((await harness.gateway.peer(1)).token).toBe("tok-2");
    await reaches(client, "open");
  });

  it("closes for good on close(), and connect() starts again", async () => {
    const client = harness.client();
    await client.opened();
    client.close();
    expect(client.state).toBe("closed");
    const peer = await harness.gateway.peer(0);
    expect((await peer.frames.waitClosed()).code).toBe(1000);
    await expect(client.opened()).rejects.toMatchObject({ code: "closed" });
    client.connect();
    await client.opened();
    expect(harness.gateway.peers).toHaveLength(2);
  });
});
