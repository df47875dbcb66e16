/**
 * Bounded fan-out inside workerd, with FANOUT_MAX_CALLS_PER_MESSAGE = 4 and one presence
 * shard (vitest.workers.config.ts): a group of 20 and a broadcast to 20 online users go
 * through two levels of FanoutShards; every user gets the message once and the meter
 * (BENCH_METER) shows no actor making more than 4 calls for it.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { eventually, type Frame, sleep } from "../helpers/frames.ts";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { connectAs, type TestSocket, uniqueUser } from "./helpers.ts";

const MAX_CALLS = 4;
const USERS = 20;

async function gateway(method: string, path: string, body?: unknown) {
  const response = await exports.default.fetch(
    new Request(`http://gateway.test${path}`, {
      method,
      headers: { Authorization: `Bearer ${TEST_API_KEY}`, "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
  );
  return { status: response.status, json: (await response.json()) as any };
}

interface Reading {
  actor_calls: number;
  rows_written: number;
  calls_by_binding: Record<string, number>;
  busiest_caller: { caller: string; calls: number };
}

const readMeter = async () => (await gateway("GET", "/__bench/meter")).json as Reading;

async function crowd(label: string): Promise<{ users: string[]; sockets: TestSocket[] }> {
  const users = Array.from({ length: USERS }, () => uniqueUser(label));
  const sockets = await Promise.all(users.map((user) => connectAs(user, { staff: true })));
  return { users, sockets };
}

/** Every socket got exactly one frame of `type` carrying `messageId`, and nothing else of it. */
async function receivedOnce(sockets: TestSocket[], type: string, messageId: string) {
  const isIt = (f: Frame) => f.type === type && f.data.message_id === messageId;
  await Promise.all(sockets.map((s) => s.frames.next(isIt)));
  await sleep(200);
  for (const socket of sockets) expect(socket.frames.received.filter(isIt)).toHaveLength(1);
}

describe("fan-out bounded per actor", () => {
  it("a group of 20 reaches every member once, no actor making more than 4 calls", async () => {
    const group = `group_fan_${uniqueUser("g")}`;
    const { sockets } = await crowd("member");
    for (const socket of sockets) {
      socket.send({ type: "join_group", data: { group_name: group }, id: "j" });
      await socket.frames.next("group_joined");
    }
    await readMeter();
    const sent = await gateway("POST", `/api/v1/groups/${group}/messages`, {
      message_type: "note",
      data: { n: 1 },
    });
    expect(sent.status).toBe(200);
    expect(sent.json.recipients).toBe(USERS);
    await receivedOnce(sockets, "group_message", sent.json.message_id);
    const reading = await readMeter();
    expect(reading.busiest_caller.calls).toBeLessThanOrEqual(MAX_CALLS);
    // 20 > 4²: two chunks of 10, each split into 4 + 4 + 2: 8 shards, 20 deliveries.
    expect(reading.calls_by_binding.FANOUT_SHARD).toBe(8);
    expect(reading.calls_by_binding.USER_HUB).toBeGreaterThanOrEqual(USERS);
    expect(reading.rows_written).toBeGreaterThan(0);
  });

  it("a broadcast to 20 online users on one presence shard reaches each once, under the bound", async () => {
    const { users, sockets } = await crowd("online");
    await eventually(async () => {
      await Promise.all(users.map((user) => runDurableObjectAlarm(env.USER_HUB.getByName(user))));
      const { json } = await gateway("GET", "/api/v1/users/online");
      const online = new Set(json.users.map((u: { user_id: string }) => u.user_id));
      return users.every((user) => online.has(user));
    });
    await readMeter();
    const sent = await gateway("POST", "/api/v1/broadcasts", { message: "fan-out" });
    expect(sent.status).toBe(200);
    expect(sent.json.recipients).toBeGreaterThanOrEqual(USERS);
    await receivedOnce(sockets, "system_broadcast", sent.json.message_id);
    const reading = await readMeter();
    expect(reading.busiest_caller.calls).toBeLessThanOrEqual(MAX_CALLS);
    expect(reading.calls_by_binding.FANOUT_SHARD).toBeGreaterThanOrEqual(2);
  });

  it("answers the meter when BENCH_METER is on", async () => {
    const reading = await readMeter();
    expect(reading).toHaveProperty("actor_calls");
  });
});
