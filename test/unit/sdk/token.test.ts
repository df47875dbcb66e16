import { describe, expect, it } from "vitest";
import { jwtExpiry } from "../../../src/sdk/jwt.ts";
import { sleep } from "../../helpers/frames.ts";
import { mintToken } from "../../helpers/tokens.ts";
import { gatewayPerTest, nextEvent, reaches } from "./fake-gateway.ts";

const harness = gatewayPerTest();

/** A provider of short-lived tokens (5 s), recording each one it hands out. */
function shortLivedTokens() {
  const issued: string[] = [];
  const provider = async () => {
    const token = await mintToken("u1", { expiresIn: 5, claims: { n: issued.length } });
    issued.push(token);
    return token;
  };
  return { issued, provider };
}

describe("token refresh", () => {
  it("sends refresh_token with a fresh token refreshBeforeExpiryMs before exp", async () => {
    const { issued, provider } = shortLivedTokens();
    // exp is 4-5 s away (whole seconds); refreshing 3.5 s before it means 0.5-1.5 s from now.
    const client = harness.client({ token: provider, refreshBeforeExpiryMs: 3_500 });
    const refreshed = new Promise((resolve) => client.on("token_refreshed", resolve));
    await client.opened();
    const peer = await harness.gateway.peer(0);
    const started = Date.now();
    const refresh = await peer.next("refresh_token");
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThan(300);
    expect(waited).toBeLessThan(2_000);
    expect(issued).toHaveLength(2);
    expect(refresh.data).toEqual({ token: issued[1] });
    expect(peer.token).toBe(issued[0]);
    const expiresAt = new Date((jwtExpiry(issued[1] ?? "") ?? 0) * 1000).toISOString();
    peer.reply(refresh, "token_refreshed", { expires_at: expiresAt });
    expect(await refreshed).toMatchObject({ data: { expires_at: expiresAt } });
    // The refreshed token is timed in turn.
    expect((await peer.next("refresh_token")).data).toEqual({ token: issued[2] });
  });

  it("reports a refused refresh and tries again at half the time left", async () => {
    const { issued, provider } = shortLivedTokens();
    const client = harness.client({ token: provider, refreshBeforeExpiryMs: 4_900 });
    await client.opened();
    const peer = await harness.gateway.peer(0);
    const error = nextEvent(client, "error");
    const first = await peer.next("refresh_token");
    peer.reply(first, "error", { code: "unauthorized", message: "token is for another user" });
    expect((await error).code).toBe("unauthorized");
    // About half of the 4-5 s left.
    const second = await peer.next("refresh_token", 4_000);
    expect(second.data).toEqual({ token: issued[2] });
  });

  it("does not refresh a fixed token string", async () => {
    const token = await mintToken("u1", { expiresIn: 2 });
    const client = harness.client({ token, refreshBeforeExpiryMs: 1_900 });
    await client.opened();
    await sleep(300);
    expect((await harness.gateway.peer(0)).frames.unconsumed()).toEqual([]);
  });

  it("opens the next socket with the latest token from the provider", async () => {
    const { issued, provider } = shortLivedTokens();
    const client = harness.client({ token: provider, refreshBeforeExpiryMs: 1_000 });
    await client.opened();
    await (await harness.gateway.peer(0)).close(1001);
    const second = await harness.gateway.peer(1);
    await reaches(client, "open");
    expect(second.token).toBe(issued[1]);
  });
});
