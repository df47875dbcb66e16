/**
 * Budgets (docs/protocol.md, "Budgets") inside workerd, with budgets small enough to reach
 * (vitest.workers.config.ts, project "workers-budgets"): USER_BUDGET_PER_SECOND 2,
 * USER_BUDGET_BURST 60, NEW_TARGETS_PER_MINUTE 5, MAILBOX_MAX 10.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Frame } from "../helpers/frames.ts";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { mintToken } from "../helpers/tokens.ts";
import { connectAs, type TestSocket, uniqueUser } from "./helpers.ts";

async function reply(socket: TestSocket, frame: Record<string, unknown>): Promise<Frame> {
  const id = `r-${Math.random().toString(36).slice(2)}`;
  socket.send({ ...frame, id });
  return socket.frames.next((f) => f.id === id);
}

/** Sends `count` pings with ids at once and resolves with the reply to each. */
async function pings(socket: TestSocket, count: number, label: string): Promise<Frame[]> {
  const ids = Array.from({ length: count }, (_, i) => `${label}-${i}`);
  for (const id of ids) socket.send({ type: "ping", id });
  return Promise.all(ids.map((id) => socket.frames.next((f) => f.id === id)));
}

async function api(path: string, body: unknown) {
  const response = await exports.default.fetch(
    new Request(`http://gateway.test/api/v1${path}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${TEST_API_KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

/** Everything an actor stores: its key-value entries and its SQLite tables. */
async function storedBy(stub: DurableObjectStub): Promise<{ keys: string[]; tables: string[] }> {
  return runInDurableObject(stub, async (_instance, state) => ({
    keys: [...(await state.storage.list()).keys()],
    tables: state.storage.sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
      )
      .toArray()
      .map((row) => row.name),
  }));
}

const distinctIds = (count: number, label: string) =>
  Array.from(
    { length: count },
    (_, i) => `${label}-${i}-${Math.random().toString(36).slice(2, 6)}`,
  );

describe("the per-user budget", () => {
  it("is shared by all of a user's sockets: two sockets together past it get rate_limited", async () => {
    const user = uniqueUser("two-tabs");
    const [a, b] = [await connectAs(user), await connectAs(user)];
    // 35 frames each: under the per-connection burst (40), over the user's 60 together.
    const [fromA, fromB] = await Promise.all([pings(a, 35, "a"), pings(b, 35, "b")]);
    const replies = [...fromA, ...fromB];
    const limited = replies.filter((f) => f.type === "error");
    expect(limited.length).toBeGreaterThan(0);
    for (const error of limited) {
      expect(error.data.code).toBe("rate_limited");
      expect(error.data.retry_after_ms).toBeGreaterThan(0);
    }
    // The 60 units of the burst were served (plus what refilled at 2/s meanwhile), not all 70.
    const served = replies.filter((f) => f.type === "pong").length;
    expect(served).toBeGreaterThanOrEqual(60);
    expect(served).toBeLessThan(70);
    expect([a.frames.closed, b.frames.closed]).toEqual([null, null]);
  });

  it("charges get_status one unit per user id asked for: 100 ids leave a debt", async () => {
    const askerId = uniqueUser("asker");
    const asker = await connectAs(askerId);
    const status = await reply(asker, {
      type: "get_status",
      data: { user_ids: distinctIds(100, "who") },
    });
    expect(status.type).toBe("status_response");
    expect(status.data.users).toHaveLength(100);
    // 101 units taken from a full bucket of 60: ~41 units of debt, refilled at 2/s.
    const next = await reply(asker, { type: "ping" });
    expect(next.type).toBe("error");
    expect(next.data.code).toBe("rate_limited");
    expect(next.data.retry_after_ms).toBeGreaterThan(1_000);
    // In debt, a token refresh is still served: refusing it could end the session at exp.
    const refreshed = await reply(asker, {
      type: "refresh_token",
      data: { token: await mintToken(askerId, { expiresIn: 7200 }) },
    });
    expect(refreshed.type).toBe("token_refreshed");

    // The same question about one user costs two units, and the next frame is served.
    const light = await connectAs(uniqueUser("light"));
    await reply(light, { type: "get_status", data: { user_ids: distinctIds(1, "who") } });
    expect((await reply(light, { type: "ping" })).type).toBe("pong");
  });
});

describe("the new-target cap (NEW_TARGETS_PER_MINUTE = 5)", () => {
  it("refuses a sixth distinct new target within a minute, not a target already written to", async () => {
    const sender = await connectAs(uniqueUser("sprayer"));
    const targets = distinctIds(6, "random");
    for (const target of targets.slice(0, 5)) {
      const answer = await reply(sender, {
        type: "send_message",
        data: { target_user_id: target, message: "hi" },
      });
      expect(answer.data.code).toBe("user_not_found");
    }
    const refused = await reply(sender, {
      type: "send_message",
      data: { target_user_id: targets[5], message: "hi" },
    });
    expect(refused.data.code).toBe("rate_limited");
    expect(refused.data.retry_after_ms).toBeGreaterThan(0);
    expect(refused.data.retry_after_ms).toBeLessThanOrEqual(60_000);
    // A target this sender wrote to within the minute is not new.
    const again = await reply(sender, {
      type: "send_message",
      data: { target_user_id: targets[0], message: "hi again" },
    });
    expect(again.data.code).toBe("user_not_found");
  });
});

describe("negative lookups", () => {
  it("a send to an unknown user id leaves nothing stored in that id's actor", async () => {
    const sender = await connectAs(uniqueUser("sender"));
    const ghost = `ghost-${Math.random().toString(36).slice(2)}`;
    const answer = await reply(sender, {
      type: "send_message",
      data: { target_user_id: ghost, message: "anyone?" },
    });
    expect(answer.data.code).toBe("user_not_found");
    const asked = await reply(sender, { type: "get_status", data: { user_ids: [ghost] } });
    expect(asked.data.users).toEqual([{ user_id: ghost, is_online: false, last_seen: null }]);
    expect(await storedBy(env.USER_HUB.getByName(ghost))).toEqual({ keys: [], tables: [] });
  });
});

describe("the notification quota", () => {
  it("a flood of direct messages past MAILBOX_MAX (10) prunes no notification", async () => {
    const bob = uniqueUser("bob");
    (await connectAs(bob)).ws.close(1000);
    const notify = (n: number) =>
      api(`/users/${bob}/notifications`, { title: `t${n}`, message: `notice ${n}` });
    for (const n of [1, 2, 3]) await notify(n);
    for (let i = 1; i <= 15; i++) {
      await api(`/users/${bob}/messages`, { from_user_id: "flooder", message: `dm ${i}` });
    }
    for (const n of [4, 5]) await notify(n);

    const back = await connectAs(bob);
    back.send({ type: "resume", data: { since_seq: 0 } });
    const done = await back.frames.next("resumed");
    const replayed = back.frames.received.filter(
      (f) => f.type === "notification" || f.type === "user_message",
    );
    expect(replayed.filter((f) => f.type === "notification").map((f) => f.data.message)).toEqual([
      "notice 1",
      "notice 2",
      "notice 3",
      "notice 4",
      "notice 5",
    ]);
    expect(replayed.filter((f) => f.type === "user_message").map((f) => f.data.message)).toEqual(
      Array.from({ length: 10 }, (_, i) => `dm ${i + 6}`),
    );
    const seqs = replayed.map((f) => f.seq as number);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(done.data).toEqual({ from_seq: 0, to_seq: 20, complete: false });
  });
});
