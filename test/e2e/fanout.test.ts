/**
 * Bounded fan-out end to end, on `npm start`'s runtime with its mirrors, with
 * FANOUT_MAX_CALLS_PER_MESSAGE = 4 and the bench meter: a group of 30 and a broadcast to 30
 * online users reach every socket exactly once, and no actor makes more than 4 calls for it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { type Client, connectAs, uniqueUser } from "./helpers.ts";
import { type OwnServer, startOwnServer } from "./own-server.ts";

const MAX_CALLS = 4;
const USERS = 30;
let server: OwnServer;

beforeAll(async () => {
  server = await startOwnServer("fanout", {
    FANOUT_MAX_CALLS_PER_MESSAGE: String(MAX_CALLS),
    PRESENCE_SHARDS: "2",
    BENCH_METER: "true",
  });
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

async function call(method: string, path: string, body?: unknown) {
  const response = await fetch(`${server.stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TEST_API_KEY}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as any };
}

const meter = async () =>
  (await call("GET", "/__bench/meter")).body as {
    calls_by_binding: Record<string, number>;
    busiest_by_class: Record<string, number>;
  };

async function connectAll(
  label: string,
  token = {},
): Promise<{ users: string[]; clients: Client[] }> {
  const users = Array.from({ length: USERS }, () => uniqueUser(label));
  const clients = await Promise.all(
    users.map((user) => connectAs(user, token, { gateway: server.stack.url })),
  );
  return { users, clients };
}

/** Each client got one `type` frame of `messageId`, and no second one within half a second. */
async function eachOnce(clients: Client[], type: string, messageId: string) {
  for (const client of clients) {
    const frame = await client.frames.next(type, 15_000);
    expect(frame.data.message_id).toBe(messageId);
  }
  await new Promise((r) => setTimeout(r, 500));
  for (const client of clients) expect(client.frames.unconsumed(type)).toEqual([]);
}

describe("fan-out under FANOUT_MAX_CALLS_PER_MESSAGE", () => {
  it("a group of 30 reaches every member once through fan-out shards", async () => {
    const group = `group_${uniqueUser("fan")}`;
    const { clients } = await connectAll("member", { groups: [group] });
    for (const client of clients) {
      expect((await client.request("join_group", { group_name: group })).type).toBe("group_joined");
    }
    await meter();
    const sent = await call("POST", `/api/v1/groups/${group}/messages`, {
      message_type: "note",
      data: { n: 1 },
    });
    expect(sent.status).toBe(200);
    expect(sent.body.recipients).toBe(USERS);
    await eachOnce(clients, "group_message", sent.body.message_id);
    const reading = await meter();
    expect(reading.calls_by_binding.FANOUT_SHARD).toBeGreaterThan(0);
    for (const actor of ["RoomHub", "FanoutShard"]) {
      expect(reading.busiest_by_class[actor], actor).toBeLessThanOrEqual(MAX_CALLS);
    }
    for (const client of clients) await client.close();
  }, 120_000);

  it("a broadcast to 30 online users reaches each once, no shard over the bound", async () => {
    const { users, clients } = await connectAll("online");
    const wanted = new Set(users);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const { body } = await call("GET", "/api/v1/users/online");
      const listed = body.users.filter((u: { user_id: string }) => wanted.has(u.user_id));
      if (listed.length === USERS) break;
      if (Date.now() > deadline) throw new Error(`only ${listed.length} of ${USERS} listed online`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await meter();
    const sent = await call("POST", "/api/v1/broadcasts", { message: "fan-out" });
    expect(sent.status).toBe(200);
    await eachOnce(clients, "system_broadcast", sent.body.message_id);
    const reading = await meter();
    expect(reading.calls_by_binding.FANOUT_SHARD).toBeGreaterThan(0);
    for (const actor of ["PresenceShard", "FanoutShard"]) {
      expect(reading.busiest_by_class[actor], actor).toBeLessThanOrEqual(MAX_CALLS);
    }
    for (const client of clients) await client.close();
  }, 120_000);
});
