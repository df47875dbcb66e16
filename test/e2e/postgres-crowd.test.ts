/**
 * Postgres under a crowd: hundreds of users going online and then offline within a few
 * seconds, on the local stack with a real Postgres (max_connections 100 on this machine).
 * Every flip must land in `realtime_presence` and the users table, and while the flips are
 * being written the user directory (a Postgres read) must keep answering: a send to a user
 * nobody has seen is a 404, never a 503 from a database that ran out of sessions.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { eventually } from "../helpers/frames.ts";
import { type Client, connectAs, gatewayUrl, uniqueUser } from "./helpers.ts";
import { api, type MirrorProbe, openMirrorProbe } from "./mirror-probe.ts";

const CROWD = 400;

let probe: MirrorProbe;

beforeAll(async () => {
  probe = await openMirrorProbe({
    databaseUrl: inject("databaseUrl"),
    redisUrl: inject("redisUrl"),
    redisKeyPrefix: inject("redisKeyPrefix"),
  });
});

afterAll(async () => {
  await probe?.close();
});

/** How many of `users` Postgres shows with this flag, in both tables. */
async function flagged(
  users: string[],
  online: boolean,
): Promise<{ presence: number; users: number }> {
  const [row] = await probe.sql<{ presence: number; users: number }>(
    `select (select count(*) from realtime_presence where user_id = any($1) and is_online = $2)::int as presence,
            (select count(*) from users where id = any($1) and is_online = $2)::int as users`,
    [users, online],
  );
  return row ?? { presence: 0, users: 0 };
}

/** Waits until Postgres shows every one of `users` with this flag, in both tables. */
async function allFlagged(users: string[], online: boolean): Promise<void> {
  await eventually(
    async () => {
      const seen = await flagged(users, online);
      return seen.presence === users.length && seen.users === users.length;
    },
    60_000,
    250,
  );
}

/** Sends to users nobody has seen, at once; the statuses the gateway answered. */
async function askAboutStrangers(count: number): Promise<number[]> {
  const answers = await Promise.all(
    Array.from({ length: count }, () =>
      api(gatewayUrl(), "POST", `/users/${uniqueUser("nobody")}/messages`, {
        from_user_id: "crowd-test",
        message: "hello?",
      }),
    ),
  );
  return answers.map((answer) => answer.status);
}

describe("Postgres under a crowd", () => {
  it(`${CROWD} users flipping at once all reach Postgres, and the user directory answers meanwhile`, async () => {
    const users = Array.from({ length: CROWD }, () => uniqueUser("crowd"));
    const clients: Client[] = [];
    for (let i = 0; i < users.length; i += 100) {
      const batch = users.slice(i, i + 100);
      clients.push(...(await Promise.all(batch.map((u) => connectAs(u, { username: u })))));
    }
    // The presence writes of the crowd are queued or in flight now.
    expect(await askAboutStrangers(20)).toEqual(Array(20).fill(404));
    await allFlagged(users, true);

    // All at once, the point of the test; under wrangler dev 400 close handshakes take ~4 s.
    await Promise.all(
      clients.map((client) => {
        client.ws.close(1000);
        return client.frames.waitClosed(30_000);
      }),
    );
    expect(await askAboutStrangers(20)).toEqual(Array(20).fill(404));
    await allFlagged(users, false);
  }, 180_000);
});
