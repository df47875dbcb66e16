/**
 * The HTTP API against the real gateway (wrangler dev from the global setup): every endpoint,
 * with real `ws` clients receiving what it sends; auth failures, bad bodies, unknown users; the
 * served OpenAPI document.
 */
import { readFileSync } from "node:fs";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import {
  DirectMessageResultSchema,
  ErrorBodySchema,
  FanoutResultSchema,
  NotificationResultSchema,
  OnlineUsersResultSchema,
  UserDetailsResultSchema,
  UserStatusResultSchema,
} from "../../src/http/api/schemas.ts";
import { eventually, sleep } from "../helpers/frames.ts";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { mintToken } from "../helpers/tokens.ts";
import { checkOpenApi } from "../unit/http/openapi-check.ts";
import { type Client, connectAs, gatewayUrl, uniqueUser } from "./helpers.ts";

/** Group sends light up once wrangler.toml binds the RoomHub. */
const hasRooms = /name\s*=\s*"ROOM_HUB"/.test(readFileSync("wrangler.toml", "utf8"));

interface CallOptions {
  body?: unknown;
  /** A raw body, sent as is (with `headers` deciding its Content-Type). */
  raw?: string;
  /** The bearer credential; null sends no Authorization header. Default: the API key. */
  auth?: string | null;
  headers?: Record<string, string>;
}

async function call(method: string, path: string, options: CallOptions = {}) {
  const headers = new Headers(options.headers);
  const auth = options.auth === undefined ? TEST_API_KEY : options.auth;
  if (auth !== null) headers.set("Authorization", `Bearer ${auth}`);
  let body = options.raw;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers.set("Content-Type", "application/json");
  }
  const response = await fetch(`${gatewayUrl()}/api/v1${path}`, { method, headers, body });
  const json: any = await response.json();
  return { status: response.status, headers: response.headers, json };
}

/** The error of a refused call, checked against the documented error shape. */
async function refusal(method: string, path: string, options: CallOptions = {}) {
  const response = await call(method, path, options);
  expect(response.status).toBeGreaterThanOrEqual(400);
  return { status: response.status, error: v.parse(ErrorBodySchema, response.json).error };
}

/** The online list is eventually consistent (presence shards are updated by an outbox). */
async function untilListedOnline(user: string, connections = 1) {
  await eventually(async () => {
    const { json } = await call("GET", "/users/online");
    return json.users.some(
      (u: { user_id: string; connection_count: number }) =>
        u.user_id === user && u.connection_count === connections,
    );
  });
}

async function joinGroup(client: Client, group: string) {
  const reply = await client.request("join_group", { group_name: group });
  expect(reply.type).toBe("group_joined");
}

describe("POST /api/v1/users/{id}/notifications", () => {
  it("reaches every tab of an online user as a notification frame", async () => {
    const user = uniqueUser("notify");
    const tabs = [await connectAs(user), await connectAs(user)];
    const response = await call("POST", `/users/${user}/notifications`, {
      body: { title: "Appointment", message: "Starts in 5 minutes", data: { room: 3 } },
    });
    expect(response.status).toBe(200);
    const result = v.parse(NotificationResultSchema, response.json);
    expect(result).toMatchObject({ delivered: true, connection_count: 2 });
    for (const tab of tabs) {
      const frame = await tab.frames.next("notification");
      expect(frame.data).toEqual({
        notification_id: result.notification_id,
        title: "Appointment",
        message: "Starts in 5 minutes",
        data: { room: 3 },
        created_at: expect.any(String),
      });
      expect(frame.seq).toBeGreaterThan(0);
      await tab.close();
    }
  });

  it("keeps a notification for a known offline user, who gets it through resume", async () => {
    const user = uniqueUser("offline");
    await (await connectAs(user)).close();
    const response = await call("POST", `/users/${user}/notifications`, {
      body: { title: "While away", message: "You missed this" },
    });
    expect(response.json).toMatchObject({ delivered: false, connection_count: 0 });
    const back = await connectAs(user);
    expect(back.established.data.last_seq).toBe(1);
    back.send({ type: "resume", data: { since_seq: 0 } });
    expect((await back.frames.next("notification")).data).toMatchObject({
      notification_id: response.json.notification_id,
      title: "While away",
      data: {},
    });
    await back.close();
  });

  it("answers 404 user_not_found for a user who never connected", async () => {
    const { status, error } = await refusal("POST", `/users/${uniqueUser("ghost")}/notifications`, {
      body: { title: "t", message: "m" },
    });
    expect(status).toBe(404);
    expect(error.code).toBe("user_not_found");
  });
});

describe("POST /api/v1/users/{id}/messages", () => {
  it("delivers a user_message from the trusted from_user_id", async () => {
    const user = uniqueUser("dm");
    const tab = await connectAs(user);
    const response = await call("POST", `/users/${user}/messages`, {
      body: { from_user_id: 7, message: "Your results are in", message_type: "doctor_note" },
    });
    const result = v.parse(DirectMessageResultSchema, response.json);
    expect(result.delivered).toBe(true);
    expect((await tab.frames.next("user_message")).data).toEqual({
      message_id: result.message_id,
      from_user_id: "7",
      from_username: "7",
      message: "Your results are in",
      message_type: "doctor_note",
      sent_at: expect.any(String),
    });
    await tab.close();
  });

  it("sends as the staff caller with a staff token", async () => {
    const [user, staff] = [uniqueUser("dm"), uniqueUser("staff")];
    const tab = await connectAs(user);
    const auth = await mintToken(staff, { staff: true, username: "Nurse Joy" });
    const response = await call("POST", `/users/${user}/messages`, {
      auth,
      body: { message: "Please arrive early" },
    });
    expect(response.status).toBe(200);
    expect((await tab.frames.next("user_message")).data).toMatchObject({
      from_user_id: staff,
      from_username: "Nurse Joy",
      message_type: "chat_message",
    });
    await tab.close();
  });

  it("answers 404 user_not_found for a user who never connected", async () => {
    const { status, error } = await refusal("POST", `/users/${uniqueUser("ghost")}/messages`, {
      body: { from_user_id: "a", message: "m" },
    });
    expect(status).toBe(404);
    expect(error).toMatchObject({ code: "user_not_found" });
  });
});

describe("POST /api/v1/broadcasts", () => {
  it("reaches every online user as a system_broadcast from the system", async () => {
    const users = [uniqueUser("bc"), uniqueUser("bc")];
    const tabs = await Promise.all(users.map((user) => connectAs(user)));
    for (const user of users) await untilListedOnline(user);
    const response = await call("POST", "/broadcasts", {
      body: { message: "Maintenance at 23:00", message_type: "maintenance" },
    });
    const result = v.parse(FanoutResultSchema, response.json);
    expect(result.recipients).toBeGreaterThanOrEqual(2);
    for (const tab of tabs) {
      expect((await tab.frames.next("system_broadcast")).data).toEqual({
        message_id: result.message_id,
        message: "Maintenance at 23:00",
        message_type: "maintenance",
        from_user_id: "system",
        sent_at: expect.any(String),
      });
      await tab.close();
    }
  });
});

describe.skipIf(!hasRooms)("POST /api/v1/groups/{name}/messages", () => {
  it("reaches the group's members with data, and nobody else", async () => {
    const group = `group_${uniqueUser("g").replace(/-/g, "_")}`;
    const [member, outsider] = [uniqueUser("member"), uniqueUser("outsider")];
    const memberTab = await connectAs(member, { groups: ["group_*"] });
    const outsiderTab = await connectAs(outsider);
    await joinGroup(memberTab, group);
    const response = await call("POST", `/groups/${group}/messages`, {
      body: { message_type: "vitals", data: { pulse: 72 } },
    });
    const result = v.parse(FanoutResultSchema, response.json);
    expect(result.recipients).toBe(1);
    expect((await memberTab.frames.next("group_message")).data).toMatchObject({
      message_id: result.message_id,
      group_name: group,
      message_type: "vitals",
      data: { pulse: 72 },
    });
    await sleep(200);
    expect(outsiderTab.frames.unconsumed("group_message")).toEqual([]);
    await memberTab.close();
    await outsiderTab.close();
  });

  it("refuses a name outside GROUP_PREFIXES with 400 invalid_group", async () => {
    const { status, error } = await refusal("POST", "/groups/lobby/messages", {
      body: { message_type: "t", data: 1 },
    });
    expect(status).toBe(400);
    expect(error.code).toBe("invalid_group");
  });
});

describe("GET /api/v1/users/{id}/status and /users/online", () => {
  it("follows a user online with their tab count, then offline after the grace", async () => {
    const user = uniqueUser("status");
    const tabs = [await connectAs(user), await connectAs(user)];
    const online = await call("GET", `/users/${user}/status`);
    expect(v.parse(UserStatusResultSchema, online.json)).toMatchObject({
      user_id: user,
      is_online: true,
      connection_count: 2,
    });
    await untilListedOnline(user, 2);
    const list = v.parse(OnlineUsersResultSchema, (await call("GET", "/users/online")).json);
    expect(list.users).toContainEqual({ user_id: user, connection_count: 2 });
    expect(list.count).toBe(list.users.length);

    for (const tab of tabs) await tab.close();
    const offline = await eventually(async () => {
      const { json } = await call("GET", `/users/${user}/status`);
      return json.is_online === false ? json : null;
    });
    expect(offline).toMatchObject({ connection_count: 0, last_seen: expect.any(String) });
    await eventually(async () => {
      const { json } = await call("GET", "/users/online");
      return !json.users.some((u: { user_id: string }) => u.user_id === user);
    });
  });

  it("answers 404 for the status of a user who never connected", async () => {
    const { status, error } = await refusal("GET", `/users/${uniqueUser("ghost")}/status`);
    expect(status).toBe(404);
    expect(error.code).toBe("user_not_found");
  });
});

describe("GET /api/v1/users/{id}", () => {
  it("lists each socket with its groups, the user's groups and the mailbox's size", async () => {
    const user = uniqueUser("details");
    const claims = { username: "dana", groups: ["group_details_*"] };
    const tabs = [await connectAs(user, claims), await connectAs(user, claims)];
    if (hasRooms) await joinGroup(tabs[0] as Client, "group_details_a");
    const sent = await call("POST", `/users/${user}/notifications`, {
      body: { title: "t", message: "stored" },
    });
    expect(sent.status).toBe(200);

    const { status, json } = await call("GET", `/users/${user}`);
    expect(status).toBe(200);
    const details = v.parse(UserDetailsResultSchema, json);
    expect(details).toMatchObject({
      user_id: user,
      username: "dana",
      is_online: true,
      connection_count: 2,
      mailbox: { messages: 1, notifications: 1, last_seq: 1 },
    });
    const ids = tabs.map((tab) => tab.established.data.connection_id);
    expect(details.sockets.map((s) => s.connection_id).sort()).toEqual([...ids].sort());
    expect(details.sockets.every((s) => s.kind === "user" && s.connected_at !== null)).toBe(true);
    if (hasRooms) {
      expect(details.groups).toEqual(["group_details_a"]);
      const joined = details.sockets.find((s) => s.connection_id === ids[0]);
      expect(joined?.groups).toEqual(["group_details_a"]);
    }
    for (const tab of tabs) await tab.close();
  });

  it("answers 404 for a user who never connected, and is not shadowing /users/online", async () => {
    const { status, error } = await refusal("GET", `/users/${uniqueUser("ghost")}`);
    expect(status).toBe(404);
    expect(error.code).toBe("user_not_found");
    const online = await call("GET", "/users/online");
    expect(v.parse(OnlineUsersResultSchema, online.json).count).toBeGreaterThanOrEqual(0);
  });
});

describe("authentication failures", () => {
  const path = "/users/online";

  it("401 without an Authorization header, with a Bearer challenge", async () => {
    const response = await call("GET", path, { auth: null });
    expect(response.status).toBe(401);
    expect(response.json.error.code).toBe("unauthorized");
    expect(response.headers.get("www-authenticate")).toContain("Bearer");
  });

  it("401 with a wrong API key or an expired staff token", async () => {
    for (const auth of ["not-the-key", await mintToken("boss", { staff: true, expiresIn: -60 })]) {
      const { status, error } = await refusal("GET", path, { auth });
      expect(status).toBe(401);
      expect(error.code).toBe("unauthorized");
    }
  });

  it("403 with the token of a user who is not staff", async () => {
    const { status, error } = await refusal("GET", path, { auth: await mintToken("patient") });
    expect(status).toBe(403);
    expect(error.code).toBe("forbidden");
  });

  it("403 when a staff token names someone else as from_user_id", async () => {
    const user = uniqueUser("target");
    await (await connectAs(user)).close();
    const { status, error } = await refusal("POST", `/users/${user}/messages`, {
      auth: await mintToken(uniqueUser("staff"), { staff: true }),
      body: { from_user_id: "someone-else", message: "hi" },
    });
    expect(status).toBe(403);
    expect(error).toMatchObject({ code: "forbidden", details: { field: "from_user_id" } });
  });

  it("accepts a superuser token", async () => {
    const response = await call("GET", path, {
      auth: await mintToken("root", { superuser: true }),
    });
    expect(response.status).toBe(200);
  });
});

describe("bad bodies", () => {
  it("400 invalid_json for malformed JSON and for a body that is not JSON", async () => {
    const malformed = await refusal("POST", "/broadcasts", {
      raw: '{"message": ',
      headers: { "Content-Type": "application/json" },
    });
    expect(malformed).toMatchObject({ status: 400, error: { code: "invalid_json" } });
    const plain = await refusal("POST", "/broadcasts", {
      raw: "message=hello",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect(plain).toMatchObject({ status: 400, error: { code: "invalid_json" } });
  });

  it("400 validation_failed naming a missing or too long field", async () => {
    const user = uniqueUser("v");
    await (await connectAs(user)).close();
    const missing = await refusal("POST", `/users/${user}/notifications`, {
      body: { message: "no title" },
    });
    expect(missing).toMatchObject({
      status: 400,
      error: { code: "validation_failed", details: { field: "title" } },
    });
    const tooLong = await refusal("POST", `/users/${user}/messages`, {
      body: { from_user_id: "a", message: "x".repeat(8193) },
    });
    expect(tooLong).toMatchObject({
      status: 400,
      error: { code: "validation_failed", details: { field: "message" } },
    });
    const badId = await refusal("GET", `/users/${encodeURIComponent("no spaces")}/status`);
    expect(badId).toMatchObject({ status: 400, error: { details: { field: "id" } } });
  });

  it("413 message_too_large for a body over 64 KiB", async () => {
    const { status, error } = await refusal("POST", "/broadcasts", {
      body: { message: "x", padding: "y".repeat(70_000) },
    });
    expect(status).toBe(413);
    expect(error).toMatchObject({ code: "message_too_large", details: { max_bytes: 65536 } });
  });
});

describe("GET /api/v1/openapi.json", () => {
  it("serves a valid OpenAPI 3.1 document listing every route", async () => {
    const response = await fetch(`${gatewayUrl()}/api/v1/openapi.json`);
    expect(response.status).toBe(200);
    const document = await response.json();
    const { problems, operations } = checkOpenApi(document);
    expect(problems).toEqual([]);
    expect(operations.map((o) => `${o.method.toUpperCase()} ${o.path}`).sort()).toEqual(
      [
        "POST /api/v1/users/{id}/notifications",
        "POST /api/v1/users/{id}/messages",
        "POST /api/v1/broadcasts",
        "POST /api/v1/groups/{name}/messages",
        "GET /api/v1/users/{id}/status",
        "GET /api/v1/users/{id}",
        "GET /api/v1/users/online",
        "DELETE /api/v1/users/{id}/connections",
        "GET /api/v1/openapi.json",
        "GET /health",
        "GET /metrics",
      ].sort(),
    );
  });
});
