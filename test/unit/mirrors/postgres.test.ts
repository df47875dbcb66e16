import type { Client } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../../scripts/migrate.ts";
import { SessionQueue } from "../../../src/core/session-queue.ts";
import { InvalidIdentifierError } from "../../../src/mirrors/identifiers.ts";
import { MemoryPostgresMirror } from "../../../src/mirrors/memory.ts";
import {
  NeonConnectionError,
  quickConnectFailure,
  withNeonClient,
} from "../../../src/mirrors/neon.ts";
import { NeonPostgresMirror, type UsersTableSettings } from "../../../src/mirrors/postgres.ts";
import { MirrorWriteError } from "../../../src/mirrors/types.ts";
import { type PostgresTestContext, startPostgresTestContext } from "../../dev/helpers/postgres.ts";
import { type PostgresProbe, postgresMirrorContract } from "./postgres-contract.ts";
import { offline, snapshot } from "./snapshots.ts";
import { wireStatements } from "./wire-statements.ts";

let pg: PostgresTestContext;

beforeAll(async () => {
  pg = await startPostgresTestContext();
  await migrate(pg.databaseUrl, { neonWsProxy: pg.neonWsProxy, schema: pg.schema });
});
afterAll(async () => {
  await pg?.close();
});

function mirrorFor(users: Partial<UsersTableSettings> = {}): NeonPostgresMirror {
  return new NeonPostgresMirror({
    databaseUrl: pg.databaseUrl,
    neonWsProxy: pg.neonWsProxy,
    schema: pg.schema,
    users: { table: `${pg.schema}.users`, ...users },
  });
}

const iso = (value: unknown) => (value instanceof Date ? value.toISOString() : null);

const neonProbe: PostgresProbe = {
  async presence(userId) {
    const [row] = await pg.query<Record<string, unknown>>(
      "select is_online, connection_count, last_seen, version from realtime_presence where user_id = $1",
      [userId],
    );
    return row
      ? {
          isOnline: row.is_online as boolean,
          connectionCount: row.connection_count as number,
          lastSeen: iso(row.last_seen),
          version: Number(row.version),
        }
      : null;
  },
  async user(userId) {
    const [row] = await pg.query<Record<string, unknown>>(
      "select username, is_staff, is_online, last_seen from users where id = $1",
      [userId],
    );
    return row
      ? {
          username: row.username as string | null,
          isStaff: row.is_staff as boolean,
          isOnline: row.is_online as boolean,
          lastSeen: iso(row.last_seen),
        }
      : null;
  },
  async notificationIds(userId) {
    const rows = await pg.query<{ id: string }>("select id from notifications where user_id = $1", [
      userId,
    ]);
    return rows.map((row) => row.id);
  },
};

postgresMirrorContract("NeonPostgresMirror against Postgres", () => ({
  mirror: mirrorFor(),
  probe: neonProbe,
}));

/** A mirror whose calls share sessions, as in the PostgresQueue actor; counts the sessions. */
function queuedMirrorFor(maxBatch: number) {
  const sessions = { opened: 0, open: 0, mostOpen: 0 };
  const connection = { databaseUrl: pg.databaseUrl, neonWsProxy: pg.neonWsProxy };
  const queue = new SessionQueue<Client>({
    maxBatch,
    open: (work) =>
      withNeonClient(connection, async (client) => {
        sessions.opened++;
        sessions.mostOpen = Math.max(sessions.mostOpen, ++sessions.open);
        try {
          return await work(client);
        } finally {
          sessions.open--;
        }
      }),
  });
  const mirror = new NeonPostgresMirror({
    ...connection,
    schema: pg.schema,
    users: { table: `${pg.schema}.users` },
    sessions: (work) => queue.run(work),
  });
  return { mirror, sessions };
}

postgresMirrorContract("NeonPostgresMirror with shared sessions (PostgresQueue)", () => ({
  mirror: queuedMirrorFor(20).mirror,
  probe: neonProbe,
}));

describe("NeonPostgresMirror with shared sessions", () => {
  it("writes 300 users' flips at once through one session at a time, each with its own result", async () => {
    const { mirror, sessions } = queuedMirrorFor(100);
    const users = Array.from({ length: 300 }, (_, i) => `crowd-${Date.now().toString(36)}-${i}`);
    const results = await Promise.all(users.map((user) => mirror.write(snapshot(user, 5))));
    expect(results).toEqual(users.map(() => ({ applied: true, userRows: 1 })));
    // A stale version in the same crowd is refused for that user alone.
    const again = await Promise.all([
      mirror.write(snapshot(users[0] as string, 4)),
      mirror.write(offline(users[1] as string, 6, "2026-11-25T10:00:00.000Z")),
    ]);
    expect(again).toEqual([
      { applied: false, userRows: 0 },
      { applied: true, userRows: 1 },
    ]);
    const [row] = await pg.query<{ online: number }>(
      "select count(*)::int as online from users where id = any($1) and is_online",
      [users],
    );
    expect(row?.online).toBe(299);
    expect(sessions.mostOpen).toBe(1);
    // 1 + 299/100 rounds for the crowd, then 1 or 2 for the pair.
    expect(sessions.opened).toBeLessThanOrEqual(7);
  });

  it("refuses a bad row in its own call only; the session goes on for the others", async () => {
    const { mirror } = queuedMirrorFor(50);
    const user = `fine-${Date.now().toString(36)}`;
    const settled = await Promise.allSettled([
      mirror.write(snapshot(`${user}-a`, 1)),
      mirror.recordNotifications([
        {
          id: `n-${user}`,
          userId: user,
          title: "t",
          message: "m",
          data: null,
          // Refused by the timestamptz column: this row fails, not the session.
          createdAt: "not a time",
          deliveredAt: null,
        },
      ]),
      mirror.write(snapshot(`${user}-b`, 1)),
    ]);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "fulfilled", "fulfilled"]);
    expect(settled[1]).toMatchObject({
      value: { refused: [{ id: `n-${user}`, reason: expect.stringMatching(/^22007: /) }] },
    });
  });
});

const twin = new MemoryPostgresMirror();
postgresMirrorContract("MemoryPostgresMirror", () => ({
  mirror: twin,
  probe: {
    presence: async (userId) => {
      const row = twin.presence.get(userId);
      return row
        ? {
            isOnline: row.isOnline,
            connectionCount: row.connectionCount,
            lastSeen: row.lastSeen,
            version: row.version,
          }
        : null;
    },
    user: async (userId) => {
      const row = twin.users.get(userId);
      return row
        ? {
            username: row.username,
            isStaff: row.isStaff,
            isOnline: row.isOnline,
            lastSeen: row.lastSeen,
          }
        : null;
    },
    notificationIds: async (userId) =>
      [...twin.notifications.values()].filter((n) => n.userId === userId).map((n) => n.id),
  },
}));

describe("NeonPostgresMirror with an existing application's table (USERS_MANAGED=false)", () => {
  /** Shaped like Django's custom user model table: bigint id and many columns of its own. */
  const djangoTable = () => `${pg.schema}.users_user`;
  const columns = async () =>
    (
      await pg.query<{ column_name: string }>(
        `select column_name from information_schema.columns
         where table_schema = $1 and table_name = 'users_user' order by ordinal_position`,
        [pg.schema],
      )
    ).map((c) => c.column_name);

  beforeAll(async () => {
    await pg.query(`create table users_user (
      id bigserial primary key,
      password varchar(128) not null,
      last_login timestamptz,
      is_superuser boolean not null default false,
      username varchar(150) not null unique,
      email varchar(254) not null default '',
      is_staff boolean not null default false,
      date_joined timestamptz not null default now(),
      is_online boolean not null default false,
      last_seen timestamptz
    )`);
    await pg.query(
      "insert into users_user (id, password, username) values (42, 'x', 'ada'), (43, 'x', 'bob')",
    );
  });

  it("updates the flag and last seen of the existing row, matched on the bigint id", async () => {
    const before = await columns();
    const mirror = mirrorFor({ table: djangoTable(), managed: false });
    expect(await mirror.write(snapshot("42", 1))).toEqual({ applied: true, userRows: 1 });
    let [ada] = await pg.query<Record<string, unknown>>(
      "select is_online, last_seen from users_user where id = 42",
    );
    expect(ada?.is_online).toBe(true);
    await mirror.write(offline("42", 2, "2026-11-25T10:30:00.000Z"));
    [ada] = await pg.query("select is_online, last_seen from users_user where id = 42");
    expect(ada).toEqual({ is_online: false, last_seen: new Date("2026-11-25T10:30:00.000Z") });
    const [bob] = await pg.query("select is_online from users_user where id = 43");
    expect(bob).toEqual({ is_online: false });
    expect(await columns()).toEqual(before);
  });

  it("never inserts a row for an unknown user, numeric or not, and does not fail", async () => {
    const mirror = mirrorFor({ table: djangoTable(), managed: false });
    expect(await mirror.write(snapshot("999", 1))).toEqual({ applied: true, userRows: 0 });
    expect(await mirror.write(snapshot("not-a-number", 1))).toEqual({ applied: true, userRows: 0 });
    const [count] = await pg.query<{ n: number }>("select count(*)::int as n from users_user");
    expect(count).toEqual({ n: 2 });
    expect(await mirror.userExists("42")).toBe(true);
    expect(await mirror.userExists("999")).toBe(false);
    expect(await mirror.userExists("not-a-number")).toBe(false);
  });

  it("writes the application's table only when the flag actually changes", async () => {
    await pg.query("insert into users_user (id, password, username) values (44, 'x', 'cy')");
    const mirror = mirrorFor({ table: djangoTable(), managed: false });
    expect((await mirror.write(snapshot("44", 1, { connectionIds: ["a"] }))).userRows).toBe(1);
    expect((await mirror.write(snapshot("44", 2, { connectionIds: ["a", "b"] }))).userRows).toBe(0);
    const [row] = await pg.query<{ connection_count: number }>(
      "select connection_count from realtime_presence where user_id = '44'",
    );
    expect(row).toEqual({ connection_count: 2 });
  });

  it("works without a last-seen column when USERS_LAST_SEEN_COLUMN is empty", async () => {
    await pg.query(
      "create table accounts (uid text primary key, online boolean not null default false)",
    );
    await pg.query("insert into accounts values ('ann')");
    const mirror = mirrorFor({
      table: `${pg.schema}.accounts`,
      idColumn: "uid",
      onlineColumn: "online",
      lastSeenColumn: "",
      managed: false,
    });
    expect(await mirror.write(snapshot("ann", 1))).toEqual({ applied: true, userRows: 1 });
    expect(await pg.query("select online from accounts")).toEqual([{ online: true }]);
  });

  it("matches uuid ids by their text form", async () => {
    await pg.query(
      "create table members (id uuid primary key, is_online boolean not null default false)",
    );
    const id = "5f0c6a1e-8d3b-4f57-9a55-3f1f2b0e9c11";
    await pg.query("insert into members (id) values ($1)", [id]);
    const mirror = mirrorFor({ table: `${pg.schema}.members`, lastSeenColumn: "", managed: false });
    expect((await mirror.write(snapshot(id, 1))).userRows).toBe(1);
    expect((await mirror.write(snapshot("nope", 1))).userRows).toBe(0);
  });
});

describe("NeonPostgresMirror transactions and failures", () => {
  it("writes the presence row and the user flag in one transaction", async () => {
    await pg.query(
      `create table locked_users (id text primary key, is_online boolean, last_seen timestamptz)`,
    );
    await pg.query("insert into locked_users values ('tx', false, null)");
    await pg.query(`create function refuse_update() returns trigger language plpgsql as
      $$ begin raise exception 'application table refuses writes'; end $$`);
    await pg.query(`create trigger refuse before update on locked_users
      for each row execute function refuse_update()`);
    const mirror = mirrorFor({ table: `${pg.schema}.locked_users`, managed: false });

    const failure = await mirror.write(snapshot("tx", 1)).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(MirrorWriteError);
    expect(String((failure as Error).message)).toMatch(/refuses writes/);
    // The presence row went back with the failed user update.
    expect(await pg.query("select * from realtime_presence where user_id = 'tx'")).toEqual([]);

    await pg.query("drop trigger refuse on locked_users");
    expect(await mirror.write(snapshot("tx", 1))).toEqual({ applied: true, userRows: 1 });
  });

  it("reports an unreachable database as a temporary MirrorWriteError", async () => {
    const mirror = new NeonPostgresMirror({
      databaseUrl: "postgres://postgres@127.0.0.1:1/test",
      neonWsProxy: pg.neonWsProxy,
    });
    const failure = await mirror.write(snapshot("x", 1)).catch((err: unknown) => err);
    expect(failure).toMatchObject({
      name: "MirrorWriteError",
      mirror: "postgres",
      temporary: true,
    });
  });

  it("tells a connect that failed at once (worth trying again) from one that timed out", async () => {
    const failure = await withNeonClient(
      { databaseUrl: "postgres://postgres@127.0.0.1:1/test", neonWsProxy: pg.neonWsProxy },
      async () => "never",
    ).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(NeonConnectionError);
    expect(quickConnectFailure(failure)).toBe(true);
    const timedOut = new NeonConnectionError("connect_failed", new Error("timeout expired"));
    expect(quickConnectFailure(timedOut)).toBe(false);
    expect(quickConnectFailure(new NeonConnectionError("connection_lost", "x"))).toBe(false);
    expect(quickConnectFailure(new Error("cannot connect"))).toBe(false);
  });

  it("names the setting when USERS_TABLE points at a table that does not exist", async () => {
    const mirror = mirrorFor({ table: `${pg.schema}.nothing_here`, managed: false });
    await expect(mirror.write(snapshot("x", 1))).rejects.toThrow(/USERS_TABLE/);
  });
});

describe("NeonPostgresMirror statement budget (counted on the wire)", () => {
  const wire = wireStatements();
  const counted = (users: Partial<UsersTableSettings> = {}) =>
    new NeonPostgresMirror({
      databaseUrl: pg.databaseUrl,
      neonWsProxy: pg.neonWsProxy,
      schema: pg.schema,
      webSocketConstructor: wire.WebSocket,
      users: { table: `${pg.schema}.users`, ...users },
    });
  /** Runs one write and returns the statements it sent. */
  const statementsOf = async (write: () => Promise<unknown>) => {
    wire.reset();
    await write();
    return [...wire.executed];
  };
  const ONE_CTE = /^\s*with applied as \(\s*insert into/;

  it("learns the id column's type once, then writes every flip in exactly one statement", async () => {
    const mirror = counted();
    const user = `budget-${Date.now().toString(36)}`;
    const first = await statementsOf(() => mirror.write(snapshot(user, 1)));
    expect(first).toHaveLength(2);
    expect(first[0]).toMatch(/pg_attribute/);
    expect(first[1]).toMatch(ONE_CTE);
    for (const next of [
      snapshot(user, 2, { connectionIds: ["a", "b"] }),
      offline(user, 3, "2026-11-25T10:00:00.000Z"),
      snapshot(user, 2), // stale: refused by the version guard, still one statement
    ]) {
      const sent = await statementsOf(() => mirror.write(next));
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatch(ONE_CTE);
    }
    const [row] = await pg.query<{ version: string; is_online: boolean }>(
      "select version, is_online from realtime_presence where user_id = $1",
      [user],
    );
    expect(row).toEqual({ version: "3", is_online: false });
  });

  it("writes an existing application's table in the same single statement", async () => {
    await pg.query(`create table budget_users (
      id bigserial primary key, username varchar(150) not null,
      is_online boolean not null default false, last_seen timestamptz)`);
    await pg.query("insert into budget_users (id, username) values (7, 'ada')");
    const mirror = counted({ table: `${pg.schema}.budget_users`, managed: false });
    await mirror.write(snapshot("7", 1)); // learns the column type
    const cases = [
      {
        write: offline("7", 2, "2026-11-25T10:00:00.000Z"),
        result: { applied: true, userRows: 1 },
      },
      {
        write: offline("7", 3, "2026-11-25T10:01:00.000Z"),
        result: { applied: true, userRows: 0 },
      },
      { write: snapshot("7", 2), result: { applied: false, userRows: 0 } },
      // Unknown to the application's table: a number with no row, and an id no bigint can hold.
      { write: snapshot("70707", 1), result: { applied: true, userRows: 0 } },
      { write: snapshot("budget-text-id", 1), result: { applied: true, userRows: 0 } },
    ];
    for (const { write, result } of cases) {
      let got: unknown;
      const sent = await statementsOf(async () => {
        got = await mirror.write(write);
      });
      expect(got).toEqual(result);
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatch(ONE_CTE);
    }
    expect(await pg.query("select id, is_online from budget_users")).toEqual([
      { id: "7", is_online: false },
    ]);
  });
});

describe("NeonPostgresMirror identifier settings", () => {
  const build = (users: Partial<UsersTableSettings>) => () =>
    new NeonPostgresMirror({ databaseUrl: "postgres://x@127.0.0.1/db", users });

  it.each([
    ["USERS_TABLE", { table: "users; drop table users" }],
    ["USERS_TABLE", { table: "a.b.c" }],
    ["USERS_TABLE", { table: '"users"' }],
    ["USERS_TABLE", { table: "" }],
    ["USERS_ID_COLUMN", { idColumn: "id--" }],
    ["USERS_ONLINE_COLUMN", { onlineColumn: "is-online" }],
    ["USERS_LAST_SEEN_COLUMN", { lastSeenColumn: "last seen" }],
  ] as const)("refuses a bad %s when built", (setting, users) => {
    const attempt = build(users);
    expect(attempt).toThrow(InvalidIdentifierError);
    expect(attempt).toThrow(new RegExp(`^${setting} `));
  });

  it("accepts schema-qualified tables and plain identifiers", () => {
    expect(
      build({ table: "public.users_user", idColumn: "_id2", onlineColumn: "Online" }),
    ).not.toThrow();
  });
});
