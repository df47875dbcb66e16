/**
 * Fault tests on a stack of their own (not the global one): its own redis-server, which the
 * tests stop and start, its own database, reached by the Worker through the stack's Neon proxy,
 * which the tests take away, and its own Redis key prefix. While a dependency is gone, sockets,
 * pings and messages must go on and /health must say which mirror is behind; once it is back,
 * both mirrors must equal the actors' truth within 10 s. Then the existing-table mode, on a
 * second stack pointed at a Django-shaped `users_user` table.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { type LocalStack, type LocalStackOptions, startLocalStack } from "../../dev/local-stack.ts";
import { NeonPostgresMirror } from "../../src/mirrors/postgres.ts";
import { startRedisServer, type TestRedisServer } from "../dev/helpers/redis-server.ts";
import { E2E_VARS } from "../helpers/e2e-config.ts";
import { eventually } from "../helpers/frames.ts";
import { type Client, connectAs, uniqueUser } from "./helpers.ts";
import {
  actorStatus,
  api,
  converged,
  createDatabase,
  type Health,
  health,
  type MirrorProbe,
  openMirrorProbe,
} from "./mirror-probe.ts";

/** How long the mirrors may take to catch up once a dependency is back (the bound). */
const CONVERGE_MS = 10_000;
/**
 * How long an outage lasts before the tests bring the dependency back: long enough for the
 * outbox's retries (250, 500, 1000, 2000 ms, ±20 %) to reach the 4 s cap, so recovery is
 * measured from the slowest retry rhythm, not from a lucky early one.
 */
const OUTAGE_MS = 8_000;

/** What a describe block started, stopped in reverse order by its afterAll, whatever failed. */
class Cleanup {
  readonly #steps: { name: string; run: () => Promise<unknown> }[] = [];

  add(name: string, run: () => Promise<unknown>): void {
    this.#steps.push({ name, run });
  }

  async run(): Promise<void> {
    for (const { name, run } of this.#steps.splice(0).reverse()) {
      await run().catch((err: unknown) => console.warn(`cleanup: ${name} failed: ${String(err)}`));
    }
  }
}

interface Pieces {
  databaseUrl: string;
  redisUrl: string;
  redisKeyPrefix: string;
}

/** A fresh database and redis-server of the block's own, and a key prefix nobody else uses. */
async function ownPieces(
  cleanup: Cleanup,
  label: string,
): Promise<{ pieces: Pieces; redis: TestRedisServer }> {
  const redis = await startRedisServer();
  cleanup.add(`${label} redis-server`, () => redis.stop());
  const database = await createDatabase(label);
  cleanup.add(`${label} database`, () => database.drop());
  const redisKeyPrefix = `e2e-${label}:${randomBytes(4).toString("hex")}:`;
  return { pieces: { databaseUrl: database.url, redisUrl: redis.url, redisKeyPrefix }, redis };
}

/** A stack over those pieces, with the e2e settings (a 300 ms grace) plus `settings`. */
async function ownStack(
  cleanup: Cleanup,
  label: string,
  pieces: Pieces,
  settings: Record<string, string> = {},
): Promise<LocalStack> {
  const dir = mkdtempSync(join(tmpdir(), `gateway-${label}-`));
  cleanup.add(`${label} folder`, async () => rmSync(dir, { recursive: true, force: true }));
  let output = "";
  const options: LocalStackOptions = {
    dataDir: dir,
    port: 0,
    // Settings (not overrides): the stack proxies and migrates this DATABASE_URL, and the
    // migrations see USERS_TABLE.
    devVars: { DATABASE_URL: pieces.databaseUrl, ...settings },
    env: {},
    redisUrl: pieces.redisUrl,
    vars: { ...E2E_VARS, REDIS_KEY_PREFIX: pieces.redisKeyPrefix },
    onWranglerOutput: (line) => {
      output += `${line}\n`;
      if (process.env.E2E_LOG) console.log(`[${label}] ${line}`);
    },
  };
  const stack = await startLocalStack(options).catch((err: unknown) => {
    throw new Error(`${label} stack did not start: ${String(err)}\n${output}`);
  });
  cleanup.add(`${label} stack`, () => stack.stop());
  return stack;
}

/** The test's sockets per user: the truth the mirrors are compared with. */
class Sockets {
  readonly #byUser = new Map<string, Client[]>();
  readonly #gateway: string;

  /** Registered after the stack, so the sockets close before it stops. */
  constructor(gateway: string, cleanup: Cleanup) {
    this.#gateway = gateway;
    cleanup.add("sockets", async () => {
      for (const clients of this.#byUser.values()) {
        await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      }
    });
  }

  async open(userId: string): Promise<Client> {
    const client = await connectAs(userId, { username: userId }, { gateway: this.#gateway });
    this.#byUser.set(userId, [...(this.#byUser.get(userId) ?? []), client]);
    return client;
  }

  async close(userId: string, client: Client): Promise<void> {
    await client.close();
    this.#byUser.set(
      userId,
      (this.#byUser.get(userId) ?? []).filter((c) => c !== client),
    );
  }

  /** user → ids of the open sockets, for every user seen (also those with none left). */
  connectionIds(only?: readonly string[]): Map<string, string[]> {
    const ids = new Map<string, string[]>();
    for (const [userId, clients] of this.#byUser) {
      if (only && !only.includes(userId)) continue;
      ids.set(
        userId,
        clients.map((c) => String(c.established.data.connection_id)),
      );
    }
    return ids;
  }
}

/**
 * Pings (one answered by the actor, one auto-answered by the runtime) and a direct message from
 * one user to another, which every open socket of the recipient gets.
 */
async function exchange(
  sockets: Sockets,
  from: { userId: string; client: Client },
  to: { userId: string; client: Client },
  message: string,
): Promise<void> {
  expect((await from.client.request("ping")).type).toBe("pong");
  to.client.send('{"type":"ping"}');
  expect(await to.client.frames.next((f) => f.type === "pong" && f.id === undefined)).toEqual({
    type: "pong",
  });
  const sent = await from.client.request("send_message", { target_user_id: to.userId, message });
  expect(sent).toMatchObject({
    type: "message_sent",
    data: {
      delivered: true,
      recipients: sockets.connectionIds([to.userId]).get(to.userId)?.length,
    },
  });
  const received = await to.client.frames.next(
    (f) => f.type === "user_message" && f.data.message === message,
  );
  expect(received.data.from_user_id).toBe(from.userId);
}

/**
 * Takes a dependency away. It comes back when the test calls the returned function or, at the
 * latest, when the test ends (so a failed test does not leave the next one without it).
 */
async function outage(
  stop: () => Promise<void>,
  start: () => Promise<void>,
): Promise<() => Promise<void>> {
  await stop();
  let restored = false;
  const restore = async () => {
    if (restored) return;
    restored = true;
    await start();
  };
  onTestFinished(restore);
  return restore;
}

/** Polls /health until `mirror` is behind and its oldest change at least `ageMs` old. */
function behind(
  gateway: string,
  mirror: "redis" | "postgres",
  ageMs = 1,
  timeoutMs = 10_000,
): Promise<Health> {
  return eventually(async () => {
    const answer = await health(gateway);
    if (
      answer[mirror] !== "behind" ||
      (answer.behind?.[mirror]?.oldest_change_age_ms ?? 0) < ageMs
    ) {
      throw new Error(`/health said ${JSON.stringify(answer)}`);
    }
    return answer;
  }, timeoutMs);
}

/** Polls until the mirrors equal the truth, then /health is ok; returns how long it took. */
async function convergence(
  gateway: string,
  probe: MirrorProbe,
  users: Map<string, string[]>,
): Promise<{ mirrorsMs: number; healthMs: number }> {
  const start = Date.now();
  await eventually(() => converged(gateway, probe, users), CONVERGE_MS, 100);
  const mirrorsMs = Date.now() - start;
  await eventually(async () => (await health(gateway)).status === "ok", CONVERGE_MS, 100);
  expect(await health(gateway)).toEqual({ status: "ok", redis: "ok", postgres: "ok" });
  return { mirrorsMs, healthMs: Date.now() - start };
}

describe("the mirrors while Redis or Postgres is down", () => {
  const cleanup = new Cleanup();
  let redis: TestRedisServer;
  let stack: LocalStack;
  let probe: MirrorProbe;
  let sockets: Sockets;

  beforeAll(async () => {
    const own = await ownPieces(cleanup, "faults");
    redis = own.redis;
    const { pieces } = own;
    probe = await openMirrorProbe(pieces);
    cleanup.add("faults probe", () => probe.close());
    stack = await ownStack(cleanup, "faults", pieces);
    sockets = new Sockets(stack.url, cleanup);
  }, 90_000);
  afterAll(() => cleanup.run(), 60_000);

  it("Redis down: sockets and Postgres go on, /health says behind, Redis catches up", async () => {
    const [ann, bob, cyd] = [uniqueUser("ann"), uniqueUser("bob"), uniqueUser("cyd")];
    // gus is online before the outage and changes nothing during it.
    const gus = uniqueUser("gus");
    const ann1 = await sockets.open(ann);
    await sockets.open(gus);
    await eventually(() => converged(stack.url, probe, sockets.connectionIds([ann, gus])));

    const redisBack = await outage(redis.stop, redis.start);
    // While Redis is down: a second tab, two newcomers, one of them leaving again.
    const ann2 = await sockets.open(ann);
    const bob1 = await sockets.open(bob);
    await sockets.close(cyd, await sockets.open(cyd));
    await exchange(sockets, { userId: ann, client: ann2 }, { userId: bob, client: bob1 }, "hi");
    const degraded = await behind(stack.url, "redis");
    expect(degraded).toMatchObject({ status: "degraded", redis: "behind", postgres: "ok" });
    expect(degraded.behind?.redis?.users).toBeGreaterThan(0);
    // The other mirror does not wait for the broken one.
    await eventually(() =>
      converged(stack.url, probe, sockets.connectionIds([ann, bob, cyd]), {
        mirrors: ["postgres"],
      }),
    );
    // Later in the outage, with the retries at their slowest: more changes and more talk.
    await behind(stack.url, "redis", OUTAGE_MS, OUTAGE_MS + 5_000);
    await sockets.close(ann, ann2);
    const bob2 = await sockets.open(bob);
    await exchange(sockets, { userId: bob, client: bob2 }, { userId: ann, client: ann1 }, "still");

    // It comes back empty (no persistence). The users who changed meanwhile refill it from their
    // outboxes; once the last of them caught up, every online user (gus too, who changed
    // nothing) is written again.
    await redisBack();
    const took = await convergence(stack.url, probe, sockets.connectionIds([ann, bob, cyd, gus]));
    console.info(
      `Redis back: mirrors converged in ${took.mirrorsMs} ms, /health ok in ${took.healthMs} ms`,
    );
  });

  it("Postgres down: sockets and Redis go on, /health says behind, Postgres catches up with flips and notifications", async () => {
    const [dan, eve, fay] = [uniqueUser("dan"), uniqueUser("eve"), uniqueUser("fay")];
    // dan is known (he connected once) and offline before Postgres goes away.
    await sockets.close(dan, await sockets.open(dan));
    await eventually(() => converged(stack.url, probe, sockets.connectionIds([dan])));

    const postgresBack = await outage(
      stack.faults.stopPostgresProxy,
      stack.faults.startPostgresProxy,
    );
    const eve1 = await sockets.open(eve);
    await sockets.close(eve, await sockets.open(eve));
    // fay flips online, offline, online again: three flips queued behind the outage.
    await sockets.close(fay, await sockets.open(fay));
    await eventually(async () => !(await actorStatus(stack.url, fay)).is_online);
    const fay2 = await sockets.open(fay);
    await exchange(
      sockets,
      { userId: eve, client: eve1 },
      { userId: fay, client: fay2 },
      "pg is down",
    );
    await exchange(
      sockets,
      { userId: fay, client: fay2 },
      { userId: eve, client: eve1 },
      "no matter",
    );
    const note = await api(stack.url, "POST", `/users/${dan}/notifications`, {
      title: "While you were away",
      message: "Postgres was down when this was sent",
    });
    expect(note).toMatchObject({ status: 200, body: { delivered: false, connection_count: 0 } });
    const degraded = await behind(stack.url, "postgres");
    expect(degraded).toMatchObject({ status: "degraded", redis: "ok", postgres: "behind" });
    await eventually(() =>
      converged(stack.url, probe, sockets.connectionIds([dan, eve, fay]), { mirrors: ["redis"] }),
    );
    expect(
      await probe.sql("select 1 from notifications where id = $1", [note.body.notification_id]),
    ).toEqual([]);
    // Later in the outage, with the retries at their slowest: more changes and more talk.
    await behind(stack.url, "postgres", OUTAGE_MS, OUTAGE_MS + 5_000);
    await sockets.close(eve, eve1);
    const eve3 = await sockets.open(eve);
    await exchange(sockets, { userId: fay, client: fay2 }, { userId: eve, client: eve3 }, "still");

    await postgresBack();
    // Every user this file has seen, including the Redis test's: nothing was lost meanwhile.
    const took = await convergence(stack.url, probe, sockets.connectionIds());
    console.info(
      `Postgres back: mirrors converged in ${took.mirrorsMs} ms, /health ok in ${took.healthMs} ms`,
    );
    expect(await probe.presence(fay)).toMatchObject({ is_online: true, connection_count: 1 });
    expect(
      await probe.sql("select user_id, title, delivered_at from notifications where id = $1", [
        note.body.notification_id,
      ]),
    ).toEqual([{ user_id: dan, title: "While you were away", delivered_at: null }]);
  });

  it("never lets an older write leave a stale flag", async () => {
    const gil = uniqueUser("gil");
    // online, gone, offline flip, back: each a newer version
    await sockets.close(gil, await sockets.open(gil));
    await eventually(async () => (await probe.presence(gil))?.is_online === false);
    const offlineVersion = Number((await probe.presence(gil))?.version);
    await sockets.open(gil);
    await eventually(() => converged(stack.url, probe, sockets.connectionIds([gil])));
    const current = await probe.presence(gil);
    expect(current?.is_online).toBe(true);
    expect(Number(current?.version)).toBeGreaterThan(offlineVersion);

    // The offline flip's write, arriving late (a retry that was overtaken), straight to Postgres.
    const mirror = new NeonPostgresMirror({
      databaseUrl: probe.databaseUrl,
      neonWsProxy: probe.neonWsProxy,
    });
    const late = await mirror.write({
      userId: gil,
      isOnline: false,
      connectionIds: [],
      connectionCount: 0,
      lastSeen: new Date().toISOString(),
      version: offlineVersion,
      username: gil,
    });
    expect(late).toEqual({ applied: false, userRows: 0 });
    expect(await probe.presence(gil)).toEqual(current);
    expect(await probe.user(gil)).toMatchObject({ is_online: true });
    await converged(stack.url, probe, sockets.connectionIds([gil]));
  });
});

describe("an existing application's table (USERS_TABLE=users_user, USERS_MANAGED=false)", () => {
  const cleanup = new Cleanup();
  let stack: LocalStack;
  let probe: MirrorProbe;
  let sockets: Sockets;
  let appUserId: string;
  const usersTable = { table: "users_user" };

  const shape = async () => ({
    columns: (
      await probe.sql<{ column_name: string; data_type: string }>(
        `select column_name, data_type from information_schema.columns
         where table_name = 'users_user' order by ordinal_position`,
      )
    ).map((c) => `${c.column_name} ${c.data_type}`),
    rows: await probe.sql("select id, username, email from users_user order by id"),
    tables: (
      await probe.sql<{ table_name: string }>(
        "select table_name from information_schema.tables where table_schema = 'public' order by 1",
      )
    ).map((t) => t.table_name),
  });

  beforeAll(async () => {
    const { pieces } = await ownPieces(cleanup, "django");
    probe = await openMirrorProbe(pieces);
    cleanup.add("django probe", () => probe.close());
    // What `manage.py migrate` makes of a custom user model with two extra fields.
    await probe.sql(`create table users_user (
      id bigserial primary key,
      password varchar(128) not null,
      last_login timestamptz,
      is_superuser boolean not null default false,
      username varchar(150) not null unique,
      first_name varchar(150) not null default '',
      last_name varchar(150) not null default '',
      email varchar(254) not null default '',
      is_staff boolean not null default false,
      is_active boolean not null default true,
      date_joined timestamptz not null default now(),
      is_online boolean not null default false,
      last_seen timestamptz
    )`);
    const [row] = await probe.sql<{ id: string }>(
      "insert into users_user (password, username, email) values ('!', 'ada', 'ada@example.test') returning id",
    );
    appUserId = String(row?.id);
    stack = await ownStack(cleanup, "django", pieces, {
      USERS_TABLE: "users_user",
      USERS_MANAGED: "false",
    });
    sockets = new Sockets(stack.url, cleanup);
  }, 90_000);
  afterAll(() => cleanup.run(), 60_000);

  it("flips the existing row's flag and last_seen, and creates no table, row or column", async () => {
    const before = await shape();
    expect(before.tables).not.toContain("users");

    const tab = await sockets.open(appUserId);
    await eventually(async () => (await probe.user(appUserId, usersTable))?.is_online === true);
    // A user the application does not know gets presence, but no row in its table.
    const stranger = uniqueUser("stranger");
    await sockets.open(stranger);
    await eventually(async () => (await probe.presence(stranger))?.is_online === true);

    const leaving = Date.now();
    await sockets.close(appUserId, tab);
    await eventually(async () => (await probe.user(appUserId, usersTable))?.is_online === false);
    const row = await probe.user(appUserId, usersTable);
    expect(row?.last_seen?.getTime()).toBeGreaterThanOrEqual(leaving);
    await eventually(() =>
      converged(stack.url, probe, sockets.connectionIds([appUserId]), { usersTable }),
    );

    expect(await shape()).toEqual(before);
    expect(await probe.user(stranger, usersTable)).toBeNull();
  });
});
