import { SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  CLOCK_TOLERANCE_SECONDS,
  extractToken,
  isPrivileged,
  type Principal,
  verifySubscriptionToken,
  verifyToken,
} from "../../../src/core/auth.ts";
import type { Config } from "../../../src/core/config.ts";
import { MAX_GLOB_STARS } from "../../../src/core/groups.ts";
import { GatewayError } from "../../../src/protocol/errors.ts";
import { TEST_JWT_SECRET } from "../../helpers/secrets.ts";
import { mintSubscriptionToken, mintToken } from "../../helpers/tokens.ts";
import { type JwksServer, type SigningKey, serveJwks, signingKey } from "../helpers/jwks.ts";
import { configWith, nowSeconds, signClaims, unsecuredToken } from "../helpers/jwt.ts";

const NOW = new Date("2026-11-25T10:00:00.000Z");

/** The GatewayError a verification was refused with. */
async function refusal(verifying: Promise<unknown>): Promise<GatewayError> {
  const outcome = await verifying.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome))
    throw new Error(`expected a refusal, got ${JSON.stringify(outcome.value)}`);
  if (!(outcome.error instanceof GatewayError)) throw outcome.error;
  return outcome.error;
}

function request(url: string, headers: Record<string, string> = {}): Request {
  return new Request(url, { headers });
}

describe("extractToken", () => {
  const url = "https://gw.example.com/ws/user/";

  it("reads ?token=", () => {
    expect(extractToken(request(`${url}?token=q.jwt.x`))).toEqual({
      token: "q.jwt.x",
      source: "query",
    });
  });

  it("reads the token from Sec-WebSocket-Protocol: bearer, <jwt>", () => {
    expect(extractToken(request(url, { "Sec-WebSocket-Protocol": "bearer, p.jwt.x" }))).toEqual({
      token: "p.jwt.x",
      source: "subprotocol",
    });
    expect(extractToken(request(url, { "Sec-WebSocket-Protocol": "Bearer,p.jwt.x" }))?.token).toBe(
      "p.jwt.x",
    );
  });

  it("reads Authorization: Bearer <jwt>", () => {
    expect(extractToken(request(url, { Authorization: "Bearer h.jwt.x" }))).toEqual({
      token: "h.jwt.x",
      source: "header",
    });
    expect(extractToken(request(url, { Authorization: "bearer   h.jwt.x" }))?.token).toBe(
      "h.jwt.x",
    );
  });

  it("prefers the query over the subprotocol and the header", () => {
    const found = extractToken(
      request(`${url}?token=q`, {
        "Sec-WebSocket-Protocol": "bearer, p",
        Authorization: "Bearer h",
      }),
    );
    expect(found).toEqual({ token: "q", source: "query" });
  });

  it("prefers the subprotocol over the header", () => {
    const found = extractToken(
      request(url, { "Sec-WebSocket-Protocol": "bearer, p", Authorization: "Bearer h" }),
    );
    expect(found).toEqual({ token: "p", source: "subprotocol" });
  });

  it("falls through an empty query token and a subprotocol list without bearer", () => {
    expect(
      extractToken(
        request(`${url}?token=`, {
          "Sec-WebSocket-Protocol": "graphql-ws",
          Authorization: "Bearer h",
        }),
      ),
    ).toEqual({ token: "h", source: "header" });
    expect(
      extractToken(request(url, { "Sec-WebSocket-Protocol": "bearer", Authorization: "Bearer h" }))
        ?.source,
    ).toBe("header");
  });

  it("finds nothing without a token, or with another Authorization scheme", () => {
    expect(extractToken(request(url))).toBeNull();
    expect(extractToken(request(url, { Authorization: "Basic dXNlcjpwYXNz" }))).toBeNull();
    expect(extractToken(request(url, { Authorization: "Bearer" }))).toBeNull();
  });
});

describe("verifyToken", () => {
  const config = configWith();

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(NOW);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each(["HS256", "HS384", "HS512"] as const)("accepts %s with JWT_SECRET", async (alg) => {
    const principal = await verifyToken(await mintToken("42", { alg }), config);
    expect(principal.userId).toBe("42");
  });

  it("builds the principal from the claims", async () => {
    const token = await mintToken("42", {
      username: "alice",
      groups: ["consultation_*", "group_a"],
    });
    expect(await verifyToken(token, config)).toEqual<Principal>({
      userId: "42",
      username: "alice",
      isStaff: false,
      isSuperuser: false,
      groups: ["consultation_*", "group_a"],
      expiresAt: nowSeconds() + 3600,
    });
  });

  it("accepts a djangorestframework-simplejwt access token as it is", async () => {
    const iat = nowSeconds();
    const token = await signClaims({
      token_type: "access",
      exp: iat + 300,
      iat,
      jti: "0f6d3c1a9b8e4f2d8c7b6a5e4d3c2b1a",
      user_id: 17,
    });
    expect(await verifyToken(token, config)).toEqual<Principal>({
      userId: "17",
      username: "17",
      isStaff: false,
      isSuperuser: false,
      groups: [],
      expiresAt: iat + 300,
    });
  });

  describe("expiry", () => {
    it(`accepts a token expired less than ${CLOCK_TOLERANCE_SECONDS} s ago`, async () => {
      const token = await mintToken("42", { expiresIn: 60 });
      vi.setSystemTime(NOW.getTime() + (60 + 29) * 1000);
      expect((await verifyToken(token, config)).userId).toBe("42");
    });

    it(`refuses a token expired more than ${CLOCK_TOLERANCE_SECONDS} s ago`, async () => {
      const token = await mintToken("42", { expiresIn: 60 });
      vi.setSystemTime(NOW.getTime() + (60 + 31) * 1000);
      const error = await refusal(verifyToken(token, config));
      expect(error.code).toBe("unauthorized");
      expect(error.message).toBe("token expired");
    });

    it("refuses a token without exp", async () => {
      const token = await signClaims({ user_id: "42", iat: nowSeconds() });
      expect((await refusal(verifyToken(token, config))).code).toBe("unauthorized");
    });

    it("refuses a token that is not valid yet, beyond the tolerance", async () => {
      const early = await mintToken("42", { claims: { nbf: nowSeconds() + 31 } });
      expect((await refusal(verifyToken(early, config))).code).toBe("unauthorized");
      const justEarly = await mintToken("42", { claims: { nbf: nowSeconds() + 29 } });
      expect((await verifyToken(justEarly, config)).userId).toBe("42");
    });
  });

  describe("signature and algorithm", () => {
    it("refuses a token signed with another secret", async () => {
      const token = await mintToken("42", { secret: "another-secret-0123456789abcdef" });
      const error = await refusal(verifyToken(token, config));
      expect(error.code).toBe("unauthorized");
      expect(error.message).toBe("bad token signature");
    });

    it("refuses a tampered payload", async () => {
      const [header, , signature] = (await mintToken("42")).split(".");
      const payload = Buffer.from(
        JSON.stringify({ user_id: "1", exp: nowSeconds() + 60 }),
      ).toString("base64url");
      expect((await refusal(verifyToken(`${header}.${payload}.${signature}`, config))).code).toBe(
        "unauthorized",
      );
    });

    it("refuses an unsecured token (alg: none)", async () => {
      const token = unsecuredToken({ user_id: "42", exp: nowSeconds() + 3600 });
      const error = await refusal(verifyToken(token, config));
      expect(error.code).toBe("unauthorized");
      expect(error.message).toBe("token algorithm not allowed");
    });

    it("refuses an RS256 token when only a secret is configured", async () => {
      const { privateKey } = await signingKey("RS256", "k");
      const token = await signClaims(
        { user_id: "42", exp: nowSeconds() + 60 },
        { alg: "RS256", key: privateKey },
      );
      const error = await refusal(verifyToken(token, config));
      expect(error.code).toBe("unauthorized");
      expect(error.message).toBe("token algorithm not allowed");
    });

    it.each(["", "garbage", "a.b.c", "a.b"])("refuses the malformed token %j", async (token) => {
      expect((await refusal(verifyToken(token, config))).code).toBe("unauthorized");
    });
  });

  it("refuses a refresh token", async () => {
    const token = await mintToken("42", { claims: { token_type: "refresh" } });
    const error = await refusal(verifyToken(token, config));
    expect(error.code).toBe("unauthorized");
    expect(error.message).toBe("refresh tokens cannot open connections");
  });

  it("refuses a username Postgres cannot store, which would fail every presence write", async () => {
    for (const username of ["ann\u0000", "ann\ud800"]) {
      const token = await mintToken("42", { claims: { username } });
      const error = await refusal(verifyToken(token, config));
      expect(error.code).toBe("unauthorized");
      expect(error.message).toContain("token claim username");
    }
    const fine = await mintToken("42", { claims: { username: "Ann 😀" } });
    expect((await verifyToken(fine, config)).username).toBe("Ann 😀");
  });

  describe("token type", () => {
    it("accepts a token without token_type, and one with token_type access", async () => {
      const bare = await mintToken("42", { claims: { token_type: undefined } });
      expect((await verifyToken(bare, config)).userId).toBe("42");
      const access = await mintToken("42", { claims: { token_type: "access" } });
      expect((await verifyToken(access, config)).userId).toBe("42");
    });

    it("refuses a subscription token, so a one-group grant cannot open the user's socket", async () => {
      const token = await mintSubscriptionToken("42", "group_a");
      const error = await refusal(verifyToken(token, config));
      expect(error.code).toBe("unauthorized");
      expect(error.message).toBe("subscription tokens cannot open connections");
    });

    it("refuses a token carrying a group claim (the old subscription form)", async () => {
      const old = await signClaims({ sub: "42", group: "group_a", exp: nowSeconds() + 300 });
      expect((await refusal(verifyToken(old, config))).message).toBe(
        "subscription tokens cannot open connections",
      );
      const access = await mintToken("42", { claims: { group: "group_a" } });
      expect((await refusal(verifyToken(access, config))).code).toBe("unauthorized");
    });

    it("refuses any other token_type", async () => {
      for (const tokenType of ["id", "ACCESS", 1, null]) {
        const token = await mintToken("42", { claims: { token_type: tokenType } });
        const error = await refusal(verifyToken(token, config));
        expect(error.message, String(tokenType)).toBe("token_type must be access");
      }
    });
  });

  describe("glob stars in the groups claim", () => {
    it(`accepts up to ${MAX_GLOB_STARS} * in one pattern`, async () => {
      const groups = ["group_*a*b*c*d*e*f*g*", "consultation_*"];
      expect((await verifyToken(await mintToken("42", { groups }), config)).groups).toEqual(groups);
    });

    it(`refuses a pattern with more than ${MAX_GLOB_STARS} *, naming the claim`, async () => {
      const token = await mintToken("42", { groups: ["group_a", "group_*a*b*c*d*e*f*g*h*"] });
      const error = await refusal(verifyToken(token, config));
      expect(error.code).toBe("unauthorized");
      expect(error.message).toBe(
        `token claim groups.1 has more than ${MAX_GLOB_STARS} * in a pattern`,
      );
    });
  });

  describe("issuer and audience", () => {
    it("ignores iss and aud when none are configured", async () => {
      const token = await mintToken("42", {
        claims: { iss: "https://elsewhere", aud: "other-app" },
      });
      expect((await verifyToken(token, config)).userId).toBe("42");
    });

    it("enforces JWT_ISSUER when configured", async () => {
      const strict = configWith({ JWT_ISSUER: "https://auth.example.com" });
      const good = await mintToken("42", { claims: { iss: "https://auth.example.com" } });
      expect((await verifyToken(good, strict)).userId).toBe("42");
      for (const claims of [{ iss: "https://elsewhere" }, {}]) {
        const error = await refusal(verifyToken(await mintToken("42", { claims }), strict));
        expect(error.code).toBe("unauthorized");
        expect(error.message).toBe("token claim iss is invalid");
      }
    });

    it("enforces JWT_AUDIENCE when configured, also inside an aud list", async () => {
      const strict = configWith({ JWT_AUDIENCE: "realtime" });
      for (const aud of ["realtime", ["web", "realtime"]]) {
        expect((await verifyToken(await mintToken("42", { claims: { aud } }), strict)).userId).toBe(
          "42",
        );
      }
      for (const claims of [{ aud: "web" }, {}]) {
        const error = await refusal(verifyToken(await mintToken("42", { claims }), strict));
        expect(error.message).toBe("token claim aud is invalid");
      }
    });
  });

  describe("user id", () => {
    it("prefers user_id over sub", async () => {
      const token = await mintToken("42", { claims: { sub: "someone-else" } });
      expect((await verifyToken(token, config)).userId).toBe("42");
    });

    it("falls back to sub without user_id", async () => {
      expect((await verifyToken(await mintToken("u-7", { useSub: true }), config)).userId).toBe(
        "u-7",
      );
    });

    it("reads only JWT_USER_CLAIM when it is configured", async () => {
      const custom = configWith({ JWT_USER_CLAIM: "uid" });
      const token = await mintToken("42", { claims: { uid: "alice-1", sub: "s" } });
      expect((await verifyToken(token, custom)).userId).toBe("alice-1");
      const without = await mintToken("42", { claims: { sub: "s" } });
      expect((await refusal(verifyToken(without, custom))).message).toBe(
        "token has no valid user id claim",
      );
    });

    it.each<[string, unknown]>([
      ["an empty string", ""],
      ["a space", "a b"],
      ["65 characters", "u".repeat(65)],
      ["a fraction", 4.2],
      ["an object", { id: 1 }],
      ["a boolean", true],
    ])("refuses a user id that is %s", async (_label, userId) => {
      const token = await signClaims({ user_id: userId, exp: nowSeconds() + 60 });
      const error = await refusal(verifyToken(token, config));
      expect(error.code).toBe("unauthorized");
      expect(error.message).toBe("token has no valid user id claim");
    });

    it("refuses a token with no user id at all", async () => {
      const token = await signClaims({ exp: nowSeconds() + 60 });
      expect((await refusal(verifyToken(token, config))).code).toBe("unauthorized");
    });
  });

  describe("claims", () => {
    it("uses the user id as the username by default", async () => {
      expect((await verifyToken(await mintToken("42"), config)).username).toBe("42");
    });

    it("grants staff and superuser only for the boolean true", async () => {
      const yes = await verifyToken(
        await mintToken("42", { staff: true, superuser: true }),
        config,
      );
      expect([yes.isStaff, yes.isSuperuser]).toEqual([true, true]);
      for (const value of ["true", 1, "yes", [true], { v: true }]) {
        const token = await mintToken("42", { claims: { is_staff: value, is_superuser: value } });
        const principal = await verifyToken(token, config);
        expect([principal.isStaff, principal.isSuperuser], JSON.stringify(value)).toEqual([
          false,
          false,
        ]);
      }
    });

    it("refuses a groups claim that is not a list of strings", async () => {
      for (const groups of ["group_a", [1, 2], { group_a: true }]) {
        const error = await refusal(
          verifyToken(await mintToken("42", { claims: { groups } }), config),
        );
        expect(error.code).toBe("unauthorized");
        expect(error.message).toMatch(/^token claim groups(\.\d+)? is invalid$/);
      }
    });

    it("refuses a username that is not a string", async () => {
      const error = await refusal(
        verifyToken(await mintToken("42", { claims: { username: 42 } }), config),
      );
      expect(error.message).toBe("token claim username is invalid");
    });
  });
});

describe("verifyToken with a JWKS (JWT_JWKS_URL)", () => {
  let jwks: JwksServer;
  let rsa: SigningKey;
  let ec: SigningKey;
  let config: Config;

  beforeAll(async () => {
    rsa = await signingKey("RS256", "rsa-1");
    ec = await signingKey("ES256", "ec-1");
    jwks = await serveJwks([rsa.jwk, ec.jwk]);
    config = configWith({ JWT_SECRET: undefined, JWT_JWKS_URL: jwks.url });
  });
  afterAll(async () => {
    await jwks.close();
  });

  const claims = () => ({ user_id: "42", token_type: "access", exp: nowSeconds() + 300 });

  it("accepts an RS256 token signed by a key in the set", async () => {
    const token = await signClaims(claims(), { alg: "RS256", kid: "rsa-1", key: rsa.privateKey });
    expect((await verifyToken(token, config)).userId).toBe("42");
    expect(jwks.fetches).toBeGreaterThan(0);
  });

  it("accepts an ES256 token signed by a key in the set", async () => {
    const token = await signClaims(claims(), { alg: "ES256", kid: "ec-1", key: ec.privateKey });
    expect((await verifyToken(token, config)).userId).toBe("42");
  });

  it("refuses a token signed by a key that is not in the set", async () => {
    const stranger = await signingKey("RS256", "rsa-1");
    const token = await signClaims(claims(), {
      alg: "RS256",
      kid: "rsa-1",
      key: stranger.privateKey,
    });
    expect((await refusal(verifyToken(token, config))).message).toBe("bad token signature");
  });

  it("refuses a token whose kid is not in the set", async () => {
    const token = await signClaims(claims(), { alg: "RS256", kid: "rsa-2", key: rsa.privateKey });
    const error = await refusal(verifyToken(token, config));
    expect(error.code).toBe("unauthorized");
    expect(error.message).toBe("no key matches the token");
  });

  it("refuses an HS256 token when no secret is configured", async () => {
    const error = await refusal(verifyToken(await mintToken("42"), config));
    expect(error.message).toBe("token algorithm not allowed");
  });

  it("refuses HS256 signed with the public key as a secret (algorithm confusion)", async () => {
    const both = configWith({ JWT_JWKS_URL: jwks.url });
    const publicKeyAsSecret = new TextEncoder().encode(JSON.stringify(rsa.jwk));
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: "HS256", kid: "rsa-1" })
      .sign(publicKeyAsSecret);
    expect((await refusal(verifyToken(token, both))).code).toBe("unauthorized");
  });

  it("accepts both kinds when both a secret and a JWKS are configured", async () => {
    const both = configWith({ JWT_JWKS_URL: jwks.url });
    const rs = await signClaims(claims(), { alg: "RS256", kid: "rsa-1", key: rsa.privateKey });
    expect((await verifyToken(rs, both)).userId).toBe("42");
    expect((await verifyToken(await mintToken("43"), both)).userId).toBe("43");
  });

  // Bug: when the key set cannot be fetched the token is refused as `unauthorized` (401), so every
  // client is told its token is bad during an outage of the identity provider. docs/protocol.md has
  // `unavailable` for "a dependency is down"; reasonOf() even names the timeout case.
  it("answers unavailable, not unauthorized, when the key set cannot be fetched", async () => {
    const gone = await serveJwks([rsa.jwk]);
    await gone.close();
    const down = configWith({ JWT_SECRET: undefined, JWT_JWKS_URL: gone.url });
    const token = await signClaims(claims(), { alg: "RS256", kid: "rsa-1", key: rsa.privateKey });
    const error = await refusal(verifyToken(token, down));
    expect(error.code).toBe("unavailable");
  });

  it("refuses an expired RS256 token", async () => {
    const token = await signClaims(
      { ...claims(), exp: nowSeconds() - CLOCK_TOLERANCE_SECONDS - 5 },
      { alg: "RS256", kid: "rsa-1", key: rsa.privateKey },
    );
    expect((await refusal(verifyToken(token, config))).message).toBe("token expired");
  });
});

describe("verifySubscriptionToken", () => {
  const config = configWith();
  const subscription = (sub: string, group: string, extra: Record<string, unknown> = {}) =>
    mintSubscriptionToken(sub, group, { claims: extra, expiresIn: 300 });

  it("is true for a token naming this user and this group", async () => {
    expect(
      await verifySubscriptionToken(await subscription("42", "group_a"), config, "42", "group_a"),
    ).toBe(true);
  });

  it("is false for another user", async () => {
    expect(
      await verifySubscriptionToken(await subscription("43", "group_a"), config, "42", "group_a"),
    ).toBe(false);
  });

  it("is false for another group", async () => {
    expect(
      await verifySubscriptionToken(await subscription("42", "group_b"), config, "42", "group_a"),
    ).toBe(false);
  });

  it("is false when the user is only in user_id, not in sub", async () => {
    const token = await signClaims({ user_id: "42", group: "group_a", exp: nowSeconds() + 300 });
    expect(await verifySubscriptionToken(token, config, "42", "group_a")).toBe(false);
  });

  it("is false for an expired, refresh, unsigned or foreign-signed token", async () => {
    const tokens = [
      await mintSubscriptionToken("42", "group_a", { expiresIn: -60 }),
      await subscription("42", "group_a", { token_type: "refresh" }),
      unsecuredToken({ sub: "42", group: "group_a", exp: nowSeconds() + 300 }),
      await signClaims(
        { sub: "42", group: "group_a", exp: nowSeconds() + 300 },
        { key: new TextEncoder().encode(`${TEST_JWT_SECRET}-other`) },
      ),
      "garbage",
    ];
    for (const token of tokens)
      expect(await verifySubscriptionToken(token, config, "42", "group_a")).toBe(false);
  });

  it("is false without token_type subscription (the old form, or an access token)", async () => {
    const old = await signClaims({ sub: "42", group: "group_a", exp: nowSeconds() + 300 });
    expect(await verifySubscriptionToken(old, config, "42", "group_a")).toBe(false);
    const access = await mintToken("42", { useSub: true, claims: { group: "group_a" } });
    expect(await verifySubscriptionToken(access, config, "42", "group_a")).toBe(false);
  });

  it("is false without an exp", async () => {
    const token = await signClaims({ sub: "42", group: "group_a" });
    expect(await verifySubscriptionToken(token, config, "42", "group_a")).toBe(false);
  });
});

describe("isPrivileged", () => {
  it("is true for staff or superusers only", () => {
    expect(isPrivileged({ isStaff: true, isSuperuser: false })).toBe(true);
    expect(isPrivileged({ isStaff: false, isSuperuser: true })).toBe(true);
    expect(isPrivileged({ isStaff: false, isSuperuser: false })).toBe(false);
  });
});
