/**
 * The HTTP API router in Node, against an in-memory twin of the actors: authentication, body
 * handling, validation, the operations' results and the OpenAPI document.
 */
import { Hono } from "hono";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { parseConfig, type RawEnv } from "../../../src/core/config.ts";
import { secretsEqual } from "../../../src/http/api/auth.ts";
import { createApi } from "../../../src/http/api/index.ts";
import { API_PREFIX, buildOpenApiDocument } from "../../../src/http/api/openapi.ts";
import { API_ROUTES } from "../../../src/http/api/routes.ts";
import {
  DirectMessageResultSchema,
  FanoutResultSchema,
  NotificationResultSchema,
  OnlineUsersResultSchema,
  UserStatusResultSchema,
} from "../../../src/http/api/schemas.ts";
import type { AppEnv } from "../../../src/http/types.ts";
import { TEST_API_KEY, TEST_JWT_SECRET } from "../../helpers/secrets.ts";
import { mintSubscriptionToken, mintToken } from "../../helpers/tokens.ts";
import { addUser, type FakeApp, FIXED_NOW, fakeApp } from "../helpers/fake-app.ts";
import { checkOpenApi } from "./openapi-check.ts";

const NOW_ISO = new Date(FIXED_NOW).toISOString();

/** The API mounted as the worker mounts it, with this configuration and this in-memory twin of the actors. */
function gateway(env: RawEnv = {}, fake: FakeApp = fakeApp()) {
  const config = parseConfig({
    JWT_SECRET: TEST_JWT_SECRET,
    API_KEY: TEST_API_KEY,
    PRESENCE_SHARDS: "3",
    ...env,
  });
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set("config", config);
    await next();
  });
  app.route(
    API_PREFIX,
    createApi(() => fake),
  );
  const call = async (
    method: string,
    path: string,
    options: {
      body?: unknown;
      raw?: BodyInit;
      auth?: string | null;
      headers?: Record<string, string>;
    } = {},
  ) => {
    const headers = new Headers(options.headers);
    const auth = options.auth === undefined ? TEST_API_KEY : options.auth;
    if (auth !== null) headers.set("Authorization", `Bearer ${auth}`);
    let body: BodyInit | undefined = options.raw;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      if (!headers.has("Content-Type")) headers.set("Content-Type", "application/json");
    }
    // A streamed body needs `duplex: "half"` (fetch spec); a string or bytes do not mind it.
    const init = { method, headers, body, duplex: "half" };
    const response = await app.request(`${API_PREFIX}${path}`, init);
    return {
      status: response.status,
      headers: response.headers,
      json: (await response.json()) as any,
    };
  };
  return { app, fake, call };
}

describe("authentication", () => {
  it("refuses a request without credentials with 401 and a Bearer challenge", async () => {
    const { call } = gateway();
    const response = await call("GET", "/users/online", { auth: null });
    expect(response.status).toBe(401);
    expect(response.json.error.code).toBe("unauthorized");
    expect(response.headers.get("WWW-Authenticate")).toBe('Bearer realm="realtime"');
  });

  it("refuses a wrong API key with 401", async () => {
    const { call } = gateway();
    for (const key of ["wrong", `${TEST_API_KEY}x`, TEST_API_KEY.slice(0, -1)]) {
      const response = await call("GET", "/users/online", { auth: key });
      expect(response.status).toBe(401);
      expect(response.json.error).toEqual({ code: "unauthorized", message: "invalid API key" });
    }
  });

  it("accepts the API key", async () => {
    const { call } = gateway();
    expect((await call("GET", "/users/online")).status).toBe(200);
  });

  it("refuses every API key when none is configured, but still accepts staff tokens", async () => {
    const { call } = gateway({ API_KEY: "" });
    expect((await call("GET", "/users/online")).status).toBe(401);
    const staff = await mintToken("boss", { staff: true });
    expect((await call("GET", "/users/online", { auth: staff })).status).toBe(200);
  });

  it("answers 403 to a valid token of a user who is not staff", async () => {
    const { call } = gateway();
    const response = await call("GET", "/users/online", { auth: await mintToken("ann") });
    expect(response.status).toBe(403);
    expect(response.json.error.code).toBe("forbidden");
  });

  it("accepts a superuser token and refuses an expired or forged staff token with 401", async () => {
    const { call } = gateway();
    const superuser = await mintToken("root", { superuser: true });
    expect((await call("GET", "/users/online", { auth: superuser })).status).toBe(200);
    for (const token of [
      await mintToken("boss", { staff: true, expiresIn: -60 }),
      await mintToken("boss", { staff: true, secret: "another-secret-0123456789abcdef" }),
    ]) {
      const response = await call("GET", "/users/online", { auth: token });
      expect(response.status).toBe(401);
      expect(response.json.error.code).toBe("unauthorized");
    }
  });

  it("refuses staff subscription and refresh tokens with 401: only access tokens are callers", async () => {
    const { call } = gateway();
    for (const token of [
      await mintSubscriptionToken("boss", "group_a", { claims: { is_staff: true } }),
      await mintToken("boss", { staff: true, claims: { token_type: "refresh" } }),
      await mintToken("boss", { staff: true, claims: { group: "group_a" } }),
    ]) {
      const response = await call("GET", "/users/online", { auth: token });
      expect(response.status).toBe(401);
      expect(response.json.error.code).toBe("unauthorized");
    }
  });

  it("compares secrets by digest: equal strings match, any difference does not", async () => {
    expect(await secretsEqual("abc", "abc")).toBe(true);
    expect(await secretsEqual("abc", "abd")).toBe(false);
    expect(await secretsEqual("abc", "abcd")).toBe(false);
    expect(await secretsEqual("", "abc")).toBe(false);
  });
});

describe("rate limit (API_RATE_LIMIT_PER_SECOND)", () => {
  const SMALL = { API_RATE_LIMIT_PER_SECOND: "1", API_RATE_LIMIT_BURST: "3" };

  it("answers 429 rate_limited with Retry-After in whole seconds once a caller passes its rate", async () => {
    const { call } = gateway(SMALL);
    for (let i = 0; i < 3; i++) expect((await call("GET", "/users/online")).status).toBe(200);
    const refused = await call("GET", "/users/online");
    expect(refused.status).toBe(429);
    expect(refused.json.error.code).toBe("rate_limited");
    expect(refused.json.error.retry_after_ms).toBeGreaterThan(0);
    const retryAfter = refused.headers.get("Retry-After") ?? "";
    expect(retryAfter).toMatch(/^[1-9]\d*$/);
    expect(Number(retryAfter) * 1000).toBeGreaterThanOrEqual(refused.json.error.retry_after_ms);
  });

  it("counts each staff user apart from the API key and from one another", async () => {
    const { call } = gateway(SMALL);
    for (let i = 0; i < 3; i++) await call("GET", "/users/online");
    expect((await call("GET", "/users/online")).status).toBe(429);
    const boss = await mintToken("boss", { staff: true });
    for (let i = 0; i < 3; i++) {
      expect((await call("GET", "/users/online", { auth: boss })).status).toBe(200);
    }
    expect((await call("GET", "/users/online", { auth: boss })).status).toBe(429);
    const other = await mintToken("other-boss", { staff: true });
    expect((await call("GET", "/users/online", { auth: other })).status).toBe(200);
  });

  it("leaves everyday traffic alone at the default of 1,000 requests/s", async () => {
    const { call } = gateway();
    for (let i = 0; i < 50; i++) expect((await call("GET", "/users/online")).status).toBe(200);
  });
});

describe("senders", () => {
  it("trusts from_user_id with the API key and requires it", async () => {
    const { call, fake } = gateway();
    const bob = addUser(fake, "bob", { sockets: 1 });
    const sent = await call("POST", "/users/bob/messages", {
      body: { from_user_id: 7, message: "hi" },
    });
    expect(sent.status).toBe(200);
    expect(JSON.parse(bob.deliveries[0]?.json ?? "null")).toMatchObject({
      from_user_id: "7",
      from_username: "7",
    });

    const missing = await call("POST", "/users/bob/messages", { body: { message: "hi" } });
    expect(missing.status).toBe(400);
    expect(missing.json.error).toMatchObject({
      code: "validation_failed",
      details: { field: "from_user_id" },
    });
  });

  it("sends as the staff caller by default and refuses another from_user_id with 403", async () => {
    const { call, fake } = gateway();
    const bob = addUser(fake, "bob");
    const auth = await mintToken("boss", { staff: true, username: "The Boss" });
    expect(
      (await call("POST", "/users/bob/messages", { auth, body: { message: "a" } })).status,
    ).toBe(200);
    expect(
      (
        await call("POST", "/users/bob/messages", {
          auth,
          body: { from_user_id: "boss", message: "b" },
        })
      ).status,
    ).toBe(200);
    const forged = await call("POST", "/users/bob/messages", {
      auth,
      body: { from_user_id: "ann", message: "c" },
    });
    expect(forged.status).toBe(403);
    expect(forged.json.error).toMatchObject({
      code: "forbidden",
      details: { field: "from_user_id" },
    });
    expect(bob.deliveries.map((d) => JSON.parse(d.json))).toMatchObject([
      { from_user_id: "boss", from_username: "The Boss", message: "a" },
      { from_user_id: "boss", message: "b" },
    ]);
  });

  it("broadcasts from the staff caller, or from `system` with the API key", async () => {
    const { call, fake } = gateway();
    await call("POST", "/broadcasts", { body: { message: "m1" } });
    await call("POST", "/broadcasts", {
      auth: await mintToken("boss", { staff: true }),
      body: { message: "m2" },
    });
    const senders = fake.broadcasts
      .map((b) => JSON.parse(b.delivery.json))
      .map((d) => d.from_user_id ?? null);
    expect(new Set(senders)).toEqual(new Set(["system", "boss"]));
  });
});

describe("bodies", () => {
  it("refuses a body that is not declared as JSON with 400 invalid_json", async () => {
    const { call, fake } = gateway();
    addUser(fake, "bob");
    const response = await call("POST", "/users/bob/notifications", {
      raw: JSON.stringify({ title: "t", message: "m" }),
      headers: { "Content-Type": "text/plain" },
    });
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe("invalid_json");
  });

  it("accepts application/json with a charset", async () => {
    const { call, fake } = gateway();
    addUser(fake, "bob");
    const response = await call("POST", "/users/bob/notifications", {
      raw: JSON.stringify({ title: "t", message: "m" }),
      headers: { "Content-Type": "application/json; charset=utf-8" },
    });
    expect(response.status).toBe(200);
  });

  it("refuses malformed and empty JSON with 400 invalid_json", async () => {
    const { call } = gateway();
    for (const raw of ["{not json", "", "   "]) {
      const response = await call("POST", "/broadcasts", {
        raw,
        headers: { "Content-Type": "application/json" },
      });
      expect(response.status, raw).toBe(400);
      expect(response.json.error.code).toBe("invalid_json");
    }
  });

  it("refuses a body over MAX_FRAME_BYTES with 413, declared or streamed", async () => {
    const { call } = gateway({ MAX_FRAME_BYTES: "2048" });
    const big = JSON.stringify({ message: "x".repeat(3000) });
    const declared = await call("POST", "/broadcasts", {
      raw: big,
      headers: { "Content-Type": "application/json", "Content-Length": String(big.length) },
    });
    expect(declared.status).toBe(413);
    expect(declared.json.error).toMatchObject({
      code: "message_too_large",
      details: { max_bytes: 2048 },
    });
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const bytes = new TextEncoder().encode(big);
        for (let i = 0; i < bytes.length; i += 500) controller.enqueue(bytes.slice(i, i + 500));
        controller.close();
      },
    });
    const streamed = await call("POST", "/broadcasts", {
      raw: stream,
      headers: { "Content-Type": "application/json" },
    });
    expect(streamed.status).toBe(413);
  });

  it("names the failing field: missing, too long, wrong type, bad path id", async () => {
    const { call, fake } = gateway();
    addUser(fake, "bob");
    const cases: [string, string, unknown, string][] = [
      ["POST", "/users/bob/notifications", { message: "m" }, "title"],
      ["POST", "/users/bob/notifications", { title: "t", message: "x".repeat(8193) }, "message"],
      ["POST", "/users/bob/notifications", { title: "t", message: "" }, "message"],
      ["POST", "/users/bob/messages", { from_user_id: "a b", message: "m" }, "from_user_id"],
      ["POST", "/broadcasts", { message: 5 }, "message"],
      ["POST", "/broadcasts", { message: "m", message_type: "has space" }, "message_type"],
      ["POST", "/broadcasts", ["not", "an", "object"], "body"],
      ["POST", "/groups/group_a/messages", { message_type: "t" }, "data"],
      ["POST", "/users/bad%20id/notifications", { title: "t", message: "m" }, "id"],
      ["GET", `/users/${"x".repeat(65)}/status`, undefined, "id"],
    ];
    for (const [method, path, body, field] of cases) {
      const response = await call(method, path, { body });
      expect(response.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(response.json.error.code).toBe("validation_failed");
      expect(response.json.error.details).toEqual({ field });
      expect(response.json.error.message.startsWith(`${field}: `)).toBe(true);
    }
  });

  it("says a missing field is required", async () => {
    const { call } = gateway();
    const response = await call("POST", "/broadcasts", { body: {} });
    expect(response.json.error.message).toBe("message: is required");
  });
});

/** `{ k: { k: … { k: 1 } } }` with `levels` objects. */
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = { k: value };
  return value;
}

describe("text, ids and shapes in bodies", () => {
  /** A raw JSON body, so escapes such as `\u0000` reach the server as written. */
  const post = (call: ReturnType<typeof gateway>["call"], path: string, raw: string) =>
    call("POST", path, { raw, headers: { "Content-Type": "application/json" } });

  it.each([
    ["title", '{"title":"a\\u0000b","message":"m"}'],
    ["message", '{"title":"t","message":"\\ud800"}'],
    ["data.foo.bar", '{"title":"t","message":"m","data":{"foo":{"bar":"\\u0000"}}}'],
    ["data.list.2", '{"title":"t","message":"m","data":{"list":[1,"ok","\\udc00"]}}'],
    ["data.\ufffd", '{"title":"t","message":"m","data":{"\\ud800":1}}'],
  ])("refuses a notification with text Postgres cannot store in %s", async (field, raw) => {
    const { call, fake } = gateway();
    const bob = addUser(fake, "bob");
    const response = await post(call, "/users/bob/notifications", raw);
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe("validation_failed");
    expect(response.json.error.details).toEqual({ field });
    expect(bob.notifications).toEqual([]);
  });

  it("refuses NUL in a direct message, a broadcast and a group message's data", async () => {
    const { call, fake } = gateway();
    addUser(fake, "bob");
    fake.rooms?.set("group_a", 1);
    const cases: [string, string, string][] = [
      ["/users/bob/messages", '{"from_user_id":"a","message":"\\u0000"}', "message"],
      ["/broadcasts", '{"message":"x\\u0000"}', "message"],
      ["/groups/group_a/messages", '{"message_type":"t","data":["\\u0000"]}', "data.0"],
      ["/groups/group_a/messages", '{"message_type":"t","data":"\\udbff"}', "data"],
    ];
    for (const [path, raw, field] of cases) {
      const response = await post(call, path, raw);
      expect(response.json.error, path).toMatchObject({
        code: "validation_failed",
        details: { field },
      });
    }
    expect(fake.published).toEqual([]);
  });

  it("accepts data nested 32 levels deep and refuses 33 with validation_failed", async () => {
    const { call, fake } = gateway();
    addUser(fake, "bob");
    fake.rooms?.set("group_a", 1);
    const ok = await call("POST", "/groups/group_a/messages", {
      body: { message_type: "t", data: nested(32) },
    });
    expect(ok.status).toBe(200);
    for (const path of ["/groups/group_a/messages", "/users/bob/notifications"]) {
      const deep = await call("POST", path, {
        body: { title: "t", message: "m", message_type: "t", data: nested(33) },
      });
      expect(deep.status, path).toBe(400);
      expect(deep.json.error.code).toBe("validation_failed");
      expect(deep.json.error.details.field).toMatch(/^data(\.k)+$/);
    }
  });

  it("refuses a from_user_id that is a number beyond 2^53 - 1 and takes it as a string", async () => {
    const { call, fake } = gateway();
    addUser(fake, "bob");
    const unsafe = await post(
      call,
      "/users/bob/messages",
      '{"from_user_id":9007199254740993,"message":"m"}',
    );
    expect(unsafe.status).toBe(400);
    expect(unsafe.json.error).toMatchObject({
      code: "validation_failed",
      details: { field: "from_user_id" },
    });
    const safe = await post(
      call,
      "/users/bob/messages",
      '{"from_user_id":"9007199254740993","message":"m"}',
    );
    expect(safe.status).toBe(200);
    expect(JSON.parse(fake.users.get("bob")?.deliveries[0]?.json ?? "null")).toMatchObject({
      from_user_id: "9007199254740993",
    });
  });
});

describe("operations", () => {
  it("notifies a user: stored and pushed, with the id, time and data {} by default", async () => {
    const { call, fake } = gateway();
    const bob = addUser(fake, "bob", { sockets: 2 });
    const response = await call("POST", "/users/bob/notifications", {
      body: { title: "Hello", message: "Welcome" },
    });
    expect(response.status).toBe(200);
    expect(v.parse(NotificationResultSchema, response.json)).toEqual({
      notification_id: "id-1",
      delivered: true,
      connection_count: 2,
    });
    expect(bob.notifications).toEqual([
      {
        notification_id: "id-1",
        title: "Hello",
        message: "Welcome",
        data: {},
        created_at: NOW_ISO,
      },
    ]);
  });

  it("answers delivered false for a known user with no socket", async () => {
    const { call, fake } = gateway();
    addUser(fake, "bob");
    const response = await call("POST", "/users/bob/messages", {
      body: { from_user_id: "ann", message: "later" },
    });
    expect(v.parse(DirectMessageResultSchema, response.json)).toEqual({
      message_id: "id-1",
      delivered: false,
    });
  });

  it("answers 404 user_not_found for notifications, messages and status of an unknown user", async () => {
    const { call } = gateway();
    const responses = [
      await call("POST", "/users/ghost/notifications", { body: { title: "t", message: "m" } }),
      await call("POST", "/users/ghost/messages", { body: { from_user_id: "a", message: "m" } }),
      await call("GET", "/users/ghost/status"),
    ];
    for (const response of responses) {
      expect(response.status).toBe(404);
      expect(response.json.error).toMatchObject({
        code: "user_not_found",
        details: { user_id: "ghost" },
      });
    }
  });

  it("reports a user's status under the id of the path", async () => {
    const { call, fake } = gateway();
    addUser(fake, "42", { sockets: 3, isOnline: true, lastSeen: null });
    const response = await call("GET", "/users/42/status");
    expect(v.parse(UserStatusResultSchema, response.json)).toEqual({
      user_id: "42",
      is_online: true,
      connection_count: 3,
      last_seen: null,
    });
  });

  it("broadcasts through every shard and counts the users reached", async () => {
    const { call, fake } = gateway();
    fake.shards.set(0, [{ user_id: "a", connection_count: 1 }]);
    fake.shards.set(2, [
      { user_id: "b", connection_count: 2 },
      { user_id: "c", connection_count: 1 },
    ]);
    const response = await call("POST", "/broadcasts", { body: { message: "maintenance" } });
    expect(v.parse(FanoutResultSchema, response.json)).toEqual({
      message_id: "id-1",
      recipients: 3,
    });
    expect(fake.broadcasts.map((b) => b.shard).sort()).toEqual([0, 1, 2]);
    const delivery = fake.broadcasts[0]?.delivery;
    expect(delivery).toMatchObject({ type: "system_broadcast", messageId: "id-1" });
    expect(JSON.parse(delivery?.json ?? "null")).toMatchObject({
      message: "maintenance",
      message_type: "system_broadcast",
      sent_at: NOW_ISO,
    });
  });

  it("lists the online users of all shards, ordered by id, with the count", async () => {
    const { call, fake } = gateway();
    fake.shards.set(1, [{ user_id: "zed", connection_count: 1 }]);
    fake.shards.set(2, [{ user_id: "amy", connection_count: 4 }]);
    const response = await call("GET", "/users/online");
    expect(v.parse(OnlineUsersResultSchema, response.json)).toEqual({
      users: [
        { user_id: "amy", connection_count: 4 },
        { user_id: "zed", connection_count: 1 },
      ],
      count: 2,
    });
  });

  it("publishes a group message with data to the group's room", async () => {
    const { call, fake } = gateway();
    fake.rooms?.set("group_chess", 5);
    const response = await call("POST", "/groups/group_chess/messages", {
      body: { message_type: "move", data: { from: "e2", to: "e4" } },
    });
    expect(response.json).toEqual({ message_id: "id-1", recipients: 5 });
    expect(fake.published).toEqual([
      {
        groupName: "group_chess",
        message: {
          type: "group_message",
          messageId: "id-1",
          fromUserId: null,
          messageType: "move",
          data: { from: "e2", to: "e4" },
          sentAt: NOW_ISO,
        },
      },
    ]);
  });

  it("refuses a group outside GROUP_PREFIXES with invalid_group", async () => {
    const { call } = gateway();
    const response = await call("POST", "/groups/chess/messages", {
      body: { message_type: "t", data: 1 },
    });
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe("invalid_group");
  });

  it("answers 503 unavailable to group sends when the deployment has no RoomHub", async () => {
    const fake = fakeApp();
    fake.rooms = null;
    const { call } = gateway({}, fake);
    const response = await call("POST", "/groups/group_a/messages", {
      body: { message_type: "t", data: null },
    });
    expect(response.status).toBe(503);
    expect(response.json.error.code).toBe("unavailable");
  });

  it("turns an unexpected failure into 500 internal without its text", async () => {
    const fake = fakeApp();
    fake.actors.shard = () => {
      throw new Error("secret stack detail");
    };
    const { call } = gateway({}, fake);
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args);
    try {
      const response = await call("GET", "/users/online");
      expect(response.status).toBe(500);
      expect(response.json).toEqual({ error: { code: "internal", message: "internal error" } });
    } finally {
      console.error = original;
    }
    expect(errors).toHaveLength(1);
  });
});

describe("terminating connections", () => {
  it("takes no body, an empty one, or a JSON one, and passes the block in ms", async () => {
    const { call, fake } = gateway();
    addUser(fake, "42", { sockets: 2 });
    expect(await call("DELETE", "/users/42/connections")).toMatchObject({
      status: 200,
      json: { closed: 2 },
    });
    const empty = await call("DELETE", "/users/42/connections", {
      raw: "",
      headers: { "Content-Type": "application/json" },
    });
    expect(empty).toMatchObject({ status: 200, json: { closed: 0 } });
    const until = new Date(FIXED_NOW + 60_000).toISOString();
    await call("DELETE", "/users/42/connections", { body: { reason: "bye", block_until: until } });
    expect(fake.terminated.map((t) => t.termination)).toEqual([
      { reason: null, blockUntil: null },
      { reason: null, blockUntil: null },
      { reason: "bye", blockUntil: FIXED_NOW + 60_000 },
    ]);
  });

  it("refuses a body that is not JSON, and a block that is not in the future", async () => {
    const { call } = gateway();
    const text = await call("DELETE", "/users/42/connections", {
      raw: "reason=bye",
      headers: { "Content-Type": "text/plain" },
    });
    expect(text).toMatchObject({ status: 400, json: { error: { code: "invalid_json" } } });
    const past = await call("DELETE", "/users/42/connections", {
      body: { block_until: NOW_ISO },
    });
    expect(past).toMatchObject({
      status: 400,
      json: { error: { code: "validation_failed", details: { field: "block_until" } } },
    });
  });
});

describe("OpenAPI document", () => {
  const document = buildOpenApiDocument();

  it("is structurally valid OpenAPI 3.1 and every $ref resolves", () => {
    const { problems } = checkOpenApi(document);
    expect(problems).toEqual([]);
    expect(document).toMatchObject({
      openapi: "3.1.0",
      components: { securitySchemes: { bearerAuth: { type: "http", scheme: "bearer" } } },
    });
  });

  it("lists exactly the routes the router has, plus /health and /metrics", () => {
    const api = createApi(() => fakeApp());
    const routed = api.routes
      .map((r) => `${r.method.toLowerCase()} ${API_PREFIX}${r.path.replace(/:(\w+)/g, "{$1}")}`)
      .sort();
    const { operations } = checkOpenApi(document);
    const documented = operations.map((o) => `${o.method} ${o.path}`).sort();
    expect(documented).toEqual([...routed, "get /health", "get /metrics"].sort());
    expect(routed).toHaveLength(API_ROUTES.length + 1);
  });

  it("documents each route's body, result and error statuses", () => {
    const paths = (document as any).paths;
    const notify = paths[`${API_PREFIX}/users/{id}/notifications`].post;
    expect(notify.requestBody.content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/NotificationBody",
    });
    expect(Object.keys(notify.responses).sort()).toEqual(
      ["200", "400", "401", "403", "404", "413", "429", "503"].sort(),
    );
    expect(notify.responses["400"].description).toContain("validation_failed");
    const status = paths[`${API_PREFIX}/users/{id}/status`].get;
    expect(status.requestBody).toBeUndefined();
    expect(status.parameters[0]).toMatchObject({ name: "id", in: "path", required: true });
    const body = (document as any).components.schemas.DirectMessageBody;
    expect(body.required).toEqual(["message"]);
    expect(body.properties.message).toMatchObject({
      type: "string",
      minLength: 1,
      maxLength: 8192,
    });
    expect(body.properties.message_type.default).toBe("chat_message");
  });

  it("is served at /api/v1/openapi.json without credentials", async () => {
    const { call } = gateway();
    const response = await call("GET", "/openapi.json", { auth: null });
    expect(response.status).toBe(200);
    expect(response.json).toEqual(JSON.parse(JSON.stringify(document)));
  });
});
