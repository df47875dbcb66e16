/**
 * Fan-out at the sizes the issues name: a broadcast to 200 online users across the presence
 * shards (and nobody offline), and a server-side send to a group of 500 members.
 */
import { describe, expect, it } from "vitest";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { type Client, connectAs, gatewayUrl, uniqueUser } from "./helpers.ts";

async function api(path: string, body: unknown) {
  const response = await fetch(`${gatewayUrl()}/api/v1${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TEST_API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** Open sockets in batches, so the test measures fan-out and not connection storms. */
async function connectMany(users: string[], token = {}): Promise<Client[]> {
  const clients: Client[] = [];
  for (let i = 0; i < users.length; i += 50) {
    clients.push(...(await Promise.all(users.slice(i, i + 50).map((u) => connectAs(u, token)))));
  }
  return clients;
}

/**
 * Close sockets in batches too. Under `wrangler dev` a burst of closes is answered after about
 * 6–10 ms each, and the answers all arrive together at the end of the burst (measured: the
 * first tenth and the last within a few ms): 500 at once take about 5 s, the close helper's limit.
 */
async function closeMany(clients: Client[]): Promise<void> {
  for (let i = 0; i < clients.length; i += 50) {
    await Promise.all(clients.slice(i, i + 50).map((c) => c.close()));
  }
}

async function onlineCount(users: Set<string>): Promise<number> {
  const response = await fetch(`${gatewayUrl()}/api/v1/users/online`, {
    headers: { authorization: `Bearer ${TEST_API_KEY}` },
  });
  const body = (await response.json()) as { users: { user_id: string }[] };
  return body.users.filter((u) => users.has(u.user_id)).length;
}

describe("fan-out at scale", () => {
  it("a broadcast reaches each of 200 online users once, and no offline user", async () => {
    const offline = Array.from({ length: 20 }, () => uniqueUser("gone"));
    for (const client of await connectMany(offline)) await client.close();
    const online = Array.from({ length: 200 }, () => uniqueUser("bc"));
    const clients = await connectMany(online);
    // Presence reaches the shards through each user's outbox: wait until all 200 are listed.
    const wanted = new Set(online);
    const deadline = Date.now() + 20_000;
    while ((await onlineCount(wanted)) < online.length) {
      if (Date.now() > deadline) throw new Error("the online list never showed all 200 users");
      await new Promise((r) => setTimeout(r, 200));
    }

    const sent = await api("/broadcasts", { message: "scale test" });
    expect(sent.status).toBe(200);
    expect(sent.body.recipients).toBeGreaterThanOrEqual(200);
    for (const client of clients) {
      const frame = await client.frames.next("system_broadcast", 15_000);
      expect(frame.data).toMatchObject({ message_id: sent.body.message_id, message: "scale test" });
      expect(client.frames.unconsumed("system_broadcast")).toEqual([]);
    }
    // Nothing was stored for the users who were offline.
    const back = await connectAs(offline[0] as string);
    expect(back.established.data.last_seq).toBe(0);
    await closeMany([...clients, back]);
  }, 120_000);

  it("a server-side send reaches each of 500 group members once", async () => {
    const group = `group_${uniqueUser("big")}`;
    const members = Array.from({ length: 500 }, () => uniqueUser("m"));
    const clients = await connectMany(members, { groups: [group] });
    for (let i = 0; i < clients.length; i += 50) {
      await Promise.all(
        clients.slice(i, i + 50).map(async (c) => {
          const joined = await c.request("join_group", { group_name: group });
          expect(joined.type).toBe("group_joined");
        }),
      );
    }
    const sent = await api(`/groups/${group}/messages`, {
      message_type: "announcement",
      data: { n: 1 },
    });
    expect(sent.status).toBe(200);
    expect(sent.body.recipients).toBe(500);
    for (const client of clients) {
      const frame = await client.frames.next("group_message", 15_000);
      expect(frame.data).toMatchObject({
        group_name: group,
        message_type: "announcement",
        data: { n: 1 },
      });
      expect(client.frames.unconsumed("group_message")).toEqual([]);
    }
    // Leave, then close in batches: this test is about the fan-out, not about close handshakes
    // (see closeMany) or the members' offline flips announced to one another.
    for (let i = 0; i < clients.length; i += 50) {
      await Promise.all(
        clients.slice(i, i + 50).map(async (c) => {
          const left = await c.request("leave_group", { group_name: group });
          expect(left.type).toBe("group_left");
        }),
      );
    }
    await closeMany(clients);
  }, 180_000);
});
