/**
 * The notification outbox against the real Postgres, with rows that validation would have
 * refused (the outbox is called directly): a row Postgres refuses is parked as a dead letter
 * and never holds back the rows after it; Postgres being unreachable, or a failure that is not
 * about one row, parks nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../../scripts/migrate.ts";
import {
  NotificationOutbox,
  type NotificationRecord,
} from "../../../src/core/notification-outbox.ts";
import { NeonPostgresMirror } from "../../../src/mirrors/postgres.ts";
import { type PostgresTestContext, startPostgresTestContext } from "../../dev/helpers/postgres.ts";
import { memorySql } from "../helpers/sqlite.ts";

let pg: PostgresTestContext;

beforeAll(async () => {
  pg = await startPostgresTestContext();
  await migrate(pg.databaseUrl, { neonWsProxy: pg.neonWsProxy, schema: pg.schema });
});
afterAll(async () => {
  await pg?.close();
});

const T0 = Date.UTC(2026, 11, 5, 10, 0, 0);

function mirror(options: { schema?: string; databaseUrl?: string } = {}): NeonPostgresMirror {
  return new NeonPostgresMirror({
    databaseUrl: options.databaseUrl ?? pg.databaseUrl,
    neonWsProxy: pg.neonWsProxy,
    schema: options.schema ?? pg.schema,
    users: { table: `${pg.schema}.users` },
  });
}

let users = 0;
function newUser(): string {
  users += 1;
  return `dl-${users}-${Date.now().toString(36)}`;
}

function record(userId: string, n: number, fields: Partial<NotificationRecord> = {}) {
  return {
    id: `${userId}-n${n}`,
    userId,
    title: `Title ${n}`,
    message: "body",
    data: { n },
    createdAt: new Date(T0 + n).toISOString(),
    deliveredAt: null,
    ...fields,
  } satisfies NotificationRecord;
}

async function storedIds(userId: string): Promise<string[]> {
  const rows = await pg.query<{ id: string }>(
    "select id from notifications where user_id = $1 order by created_at",
    [userId],
  );
  return rows.map((row) => row.id);
}

describe("NotificationOutbox with rows Postgres refuses", () => {
  it("writes the good rows, parks the refused ones as dead letters and is empty after", async () => {
    const user = newUser();
    const outbox = new NotificationOutbox(memorySql());
    const rows = [
      record(user, 1),
      record(user, 2, { title: "NUL \u0000 in the title" }),
      record(user, 3),
      record(user, 4, { data: { nested: { text: "lone \ud800 surrogate" } } }),
      record(user, 5, { message: "NUL \u0000 in the message" }),
      record(user, 6),
    ];
    rows.forEach((row, i) => {
      outbox.add(row, T0 + i);
    });
    const pgMirror = mirror();

    expect(await outbox.flush((records) => pgMirror.recordNotifications(records), T0 + 10)).toBe(
      null,
    );
    expect(await storedIds(user)).toEqual([`${user}-n1`, `${user}-n3`, `${user}-n6`]);
    expect(outbox.size()).toBe(0);
    expect(outbox.nextFlushAt()).toBeNull();
    expect(outbox.deadLetterCount()).toBe(3);
    expect(outbox.deadLetters().map((dead) => dead.id)).toEqual([
      `${user}-n2`,
      `${user}-n4`,
      `${user}-n5`,
    ]);
    // The reason is Postgres's SQLSTATE and message, never the row's content.
    for (const dead of outbox.deadLetters()) expect(dead.reason).toMatch(/^22[0-9A-Z]{3}: /);
  });

  it("keeps writing rows added after a refused one, flush after flush", async () => {
    const user = newUser();
    const outbox = new NotificationOutbox(memorySql());
    const pgMirror = mirror();
    const write = (records: NotificationRecord[]) => pgMirror.recordNotifications(records);
    outbox.add(record(user, 1, { title: "\u0000" }), T0);
    expect(await outbox.flush(write, T0 + 1)).toBeNull();
    outbox.add(record(user, 2), T0 + 2);
    expect(await outbox.flush(write, T0 + 3)).toBeNull();
    expect(await storedIds(user)).toEqual([`${user}-n2`]);
    expect(outbox.deadLetterCount()).toBe(1);
  });

  it("parks nothing while Postgres cannot be reached, and retries with backoff", async () => {
    const user = newUser();
    const outbox = new NotificationOutbox(memorySql());
    // The proxy only lets the test's Postgres through, so this connection is refused.
    const down = mirror({ databaseUrl: "postgres://postgres@127.0.0.1:1/test" });
    outbox.add(record(user, 1), T0);
    outbox.add(record(user, 2, { title: "\u0000" }), T0 + 1);
    const error = await outbox.flush((records) => down.recordNotifications(records), T0 + 10);
    expect(error).toMatch(/postgres mirror/);
    expect(outbox.size()).toBe(2);
    expect(outbox.deadLetterCount()).toBe(0);
    expect(outbox.nextFlushAt()).toBeGreaterThan(T0 + 10);
  });

  it("parks nothing when the statement fails for every row alike (no notifications table)", async () => {
    const user = newUser();
    const empty = `${pg.schema}_empty`;
    await pg.query(`create schema "${empty}"`);
    try {
      const outbox = new NotificationOutbox(memorySql());
      const broken = mirror({ schema: empty });
      outbox.add(record(user, 1, { title: "\u0000" }), T0);
      outbox.add(record(user, 2), T0 + 1);
      const error = await outbox.flush((records) => broken.recordNotifications(records), T0 + 10);
      expect(error).toMatch(/notifications/);
      expect(outbox.size()).toBe(2);
      expect(outbox.deadLetterCount()).toBe(0);
    } finally {
      await pg.query(`drop schema "${empty}" cascade`);
    }
  });
});
