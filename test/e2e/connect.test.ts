import { describe, expect, it } from "vitest";
import { mintToken } from "../helpers/tokens.ts";
import { connectAs, gatewayUrl, openSocket, UpgradeRefused, uniqueUser } from "./helpers.ts";

async function refusal(promise: Promise<unknown>): Promise<UpgradeRefused> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof UpgradeRefused) return err;
    throw err;
  }
  throw new Error("the upgrade was accepted");
}

describe("authentication at the upgrade", () => {
  for (const via of ["query", "subprotocol", "header"] as const) {
    it(`accepts a token from the ${via}`, async () => {
      const user = uniqueUser();
      const client = await connectAs(user, { username: "ann" }, { via });
      expect(client.established.data).toMatchObject({
        user_id: user,
        username: "ann",
        connection_count: 1,
      });
      if (via === "subprotocol") expect(client.ws.protocol).toBe("bearer");
      await client.close();
    });
  }

  it("refuses a missing token with 401 and a JSON error", async () => {
    const refused = await refusal(openSocket(null));
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toEqual({
      error: { code: "unauthorized", message: "missing token" },
    });
  });

  it("refuses a bad signature, an expired token and a refresh token with 401", async () => {
    const user = uniqueUser();
    const tokens = [
      await mintToken(user, { secret: "some-other-secret-0123456789" }),
      await mintToken(user, { expiresIn: -31 - 5 }),
      await mintToken(user, { claims: { token_type: "refresh" } }),
    ];
    for (const token of tokens) {
      const refused = await refusal(openSocket(token));
      expect(refused.status).toBe(401);
      expect(JSON.parse(refused.body).error.code).toBe("unauthorized");
    }
  });

  it("accepts a simplejwt access token whose user id is a number", async () => {
    const client = await connectAs(4242, { claims: { jti: "abc", token_type: "access" } });
    expect(client.established.data.user_id).toBe("4242");
    await client.close();
  });

  it("answers 426 to a plain GET on a socket path", async () => {
    for (const path of ["/ws/user/", "/ws/user"]) {
      const response = await fetch(gatewayUrl() + path);
      expect(response.status).toBe(426);
      expect(((await response.json()) as any).error.code).toBe("upgrade_required");
    }
  });

  it("answers 403 to an origin outside ALLOWED_ORIGINS and accepts a listed one", async () => {
    const user = uniqueUser();
    const refused = await refusal(connectAs(user, {}, { origin: "http://evil.test" }));
    expect(refused.status).toBe(403);
    const client = await connectAs(user, {}, { origin: "http://allowed.test" });
    await client.close();
  });

  it("ignores a client-sent identity header", async () => {
    const user = uniqueUser();
    const forged = JSON.stringify({
      principal: {
        userId: "admin",
        username: "admin",
        isStaff: true,
        isSuperuser: true,
        groups: [],
        expiresAt: 9e9,
      },
      source: "query",
    });
    const client = await connectAs(user, {}, { headers: { "X-Realtime-Identity": forged } });
    expect(client.established.data.user_id).toBe(user);
    await client.close();
  });
});

describe("the seed's client flow", () => {
  it("connects, asks for its status and pings", async () => {
    const user = uniqueUser();
    const client = await connectAs(user, { username: "seed" });
    client.send({ type: "get_status" });
    const status = await client.frames.next("status_response");
    expect(status.data).toMatchObject({ user_id: user, is_online: true, connection_count: 1 });
    client.send({ type: "ping" });
    expect((await client.frames.next("pong")).type).toBe("pong");
    const closed = await client.close(1000);
    expect(closed.code).toBe(1000);
  });

  it("reports health", async () => {
    const response = await fetch(`${gatewayUrl()}/health`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as any).status).toBe("ok");
  });
});
