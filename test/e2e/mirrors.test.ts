/**
 * The presence mirrors end to end, on the stack of the global setup: what real sockets do shows
 * up in the run's Redis keys and Postgres rows (polled, never slept on), and notifications land
 * in Postgres. Every write to the presence and user tables is also logged by a trigger, so a
 * test can tell that a flip never happened rather than that it was not seen.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { eventually, sleep } from "../helpers/frames.ts";
import { mintToken } from "../helpers/tokens.ts";
import { type Client, connectAs, gatewayUrl, openSocket, uniqueUser } from "./helpers.ts";
import { actorStatus, api, health, type MirrorProbe, openMirrorProbe } from "./mirror-probe.ts";

const GRACE_MS = 300; // PRESENCE_GRACE_MS of the e2e stack (test/helpers/e2e-config.ts)

let probe: MirrorProbe;
const open: Client[] = [];

interface HistoryRow {
  source: string;
  is_online: boolean;
  version: string | null;
}

beforeAll(async () => {
  probe = await openMirrorProbe({
    databaseUrl: inject("databaseUrl"),
    redisUrl: inject("redisUrl"),
    redisKeyPrefix: inject("redisKeyPrefix"),
  });
  await probe.sql(`create table e2e_presence_history (
    seq bigserial primary key, source text not null, user_id text not null,
    is_online boolean not null, version bigint, at timestamptz not null default clock_timestamp())`);
  await probe.sql(`create function e2e_log_presence() returns trigger language plpgsql as $$
    begin
      insert into e2e_presence_history (source, user_id, is_online, version)
      values (tg_table_name, coalesce(to_jsonb(new) ->> 'user_id', to_jsonb(new) ->> 'id'),
              new.is_online, (to_jsonb(new) ->> 'version')::bigint);
      return null;
    end $$`);
  for (const table of ["realtime_presence", "users"]) {
    await probe.sql(`create trigger e2e_log_presence after insert or update on ${table}
      for each row execute function e2e_log_presence()`);
  }
});

afterAll(async () => {
  for (const client of open.splice(0)) await client.close().catch(() => undefined);
  if (!probe) return;
  for (const table of ["realtime_presence", "users"]) {
    await probe.sql(`drop trigger if exists e2e_log_presence on ${table}`).catch(() => undefined);
  }
  await probe.sql("drop function if exists e2e_log_presence()").catch(() => undefined);
  await probe.sql("drop table if exists e2e_presence_history").catch(() => undefined);
  await probe.close();
});

async function connect(userId: string): Promise<Client> {
  const client = await connectAs(userId, { username: userId });
  open.push(client);
  return client;
}

async function history(userId: string): Promise<HistoryRow[]> {
  return probe.sql<HistoryRow>(
    "select source, is_online, version from e2e_presence_history where user_id = $1 order by seq",
    [userId],
  );
}

describe("a user with two tabs", () => {
  const user = uniqueUser("mirrors");
  let tabs: Client[] = [];

  it("has exactly both connection ids in Redis with a TTL, and is online in Redis and Postgres", async () => {
    tabs = [await connect(user), await connect(user)];
    const ids = tabs.map((tab) => String(tab.established.data.connection_id)).sort();
    await eventually(async () => {
      const view = await probe.redisView(user);
      return JSON.stringify(view.members) === JSON.stringify(ids) && view.online;
    });
    const view = await probe.redisView(user);
    expect(view.ttl).toBeGreaterThan(0);
    expect(view.ttl).toBeLessThanOrEqual(86_400);
    await eventually(async () => (await probe.presence(user))?.connection_count === 2);
    expect(await probe.presence(user)).toMatchObject({ is_online: true, connection_count: 2 });
    expect(await probe.user(user)).toMatchObject({ is_online: true });
  });

  it("is gone from Redis and offline in Postgres, last_seen set, only after the grace", async () => {
    const closing = Date.now();
    await Promise.all(tabs.map((tab) => tab.close()));
    await eventually(async () => {
      const [view, row, userRow] = await Promise.all([
        probe.redisView(user),
        probe.presence(user),
        probe.user(user),
      ]);
      return (
        view.ttl === -2 && !view.online && row?.is_online === false && userRow?.is_online === false
      );
    });
    const row = await probe.presence(user);
    const userRow = await probe.user(user);
    expect(row).toMatchObject({ is_online: false, connection_count: 0 });
    // The flip is stamped when the grace ran out, never earlier (same machine, same clock).
    expect(row?.last_seen?.getTime()).toBeGreaterThanOrEqual(closing + GRACE_MS);
    expect(userRow?.last_seen).toEqual(row?.last_seen);
    expect(await probe.redis.exists(`${inject("redisKeyPrefix")}user_connections:${user}`)).toBe(0);
  });
});

describe("a reconnect inside the grace period", () => {
  it("flips nothing: the flag is never false and the version moves only with the connections", async () => {
    const user = uniqueUser("regrace");
    const first = await connect(user);
    await eventually(async () => (await probe.presence(user))?.is_online === true);
    const before = await probe.presence(user);
    const token = await mintToken(user, { username: user });

    const closeSent = Date.now();
    await first.close();
    const second = await openSocket(token);
    open.push(second);
    const reconnectedAfter = Date.now() - closeSent;
    expect(reconnectedAfter).toBeLessThan(GRACE_MS);

    // Two connection changes (the close, the reconnect), no flip between them: the row reaches
    // the reconnected state with a newer version (versions follow the clock, see
    // src/core/presence.ts nextVersion).
    const beforeVersion = Number(before?.version ?? 0);
    await eventually(async () => {
      const row = await probe.presence(user);
      return row?.connection_count === 1 && Number(row.version) > beforeVersion;
    });
    const settled = await probe.presence(user);
    // The absence of a flip can only be shown after its deadline: wait until the grace the close
    // started is well over, then look at every write the two tables ever received.
    await sleep(closeSent + GRACE_MS + 500 - Date.now());
    expect(await actorStatus(gatewayUrl(), user)).toMatchObject({
      is_online: true,
      connection_count: 1,
      last_seen: null,
    });
    expect(await probe.presence(user)).toMatchObject({
      is_online: true,
      connection_count: 1,
      last_seen: null,
      version: settled?.version,
    });
    const writes = await history(user);
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.filter((w) => !w.is_online)).toEqual([]);
    const versions = writes.filter((w) => w.source === "realtime_presence").map((w) => w.version);
    expect(versions.map(Number)).toEqual([...versions.map(Number)].sort((a, b) => a - b));
    expect(await probe.redisView(user)).toMatchObject({
      members: [String(second.established.data.connection_id)],
      online: true,
    });
  });
});

describe("notifications in Postgres", () => {
  interface NotificationRow {
    user_id: string;
    title: string;
    message: string;
    data: unknown;
    created_at: Date;
    delivered_at: Date | null;
  }
  const row = async (id: string) =>
    (
      await probe.sql<NotificationRow>(
        "select user_id, title, message, data, created_at, delivered_at from notifications where id = $1",
        [id],
      )
    )[0];

  it("records a notification sent to an offline known user, undelivered", async () => {
    const user = uniqueUser("notified");
    const client = await connect(user);
    await client.close();
    await eventually(async () => !(await actorStatus(gatewayUrl(), user)).is_online);

    const sent = await api(gatewayUrl(), "POST", `/users/${user}/notifications`, {
      title: "Report ready",
      message: "Your report is ready",
      data: { report: 7 },
    });
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ delivered: false, connection_count: 0 });
    const recorded = await eventually(() => row(sent.body.notification_id));
    expect(recorded).toMatchObject({
      user_id: user,
      title: "Report ready",
      message: "Your report is ready",
      data: { report: 7 },
      delivered_at: null,
    });
  });

  it("records one pushed to an online user with the time it was delivered", async () => {
    const user = uniqueUser("notified");
    const client = await connect(user);
    const sent = await api(gatewayUrl(), "POST", `/users/${user}/notifications`, {
      title: "Hi",
      message: "You are online",
    });
    expect(sent.body).toMatchObject({ delivered: true, connection_count: 1 });
    const frame = await client.frames.next("notification");
    expect(frame.data.notification_id).toBe(sent.body.notification_id);
    const recorded = await eventually(() => row(sent.body.notification_id));
    expect(recorded?.delivered_at).toBeInstanceOf(Date);
  });
});

describe("GET /health", () => {
  it("says ok for both mirrors", async () => {
    expect(await health(gatewayUrl())).toEqual({ status: "ok", redis: "ok", postgres: "ok" });
  });
});
