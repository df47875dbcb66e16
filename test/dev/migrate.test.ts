import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MigrationError, migrate } from "../../scripts/migrate.ts";
import { type PostgresTestContext, startPostgresTestContext } from "./helpers/postgres.ts";

let pg: PostgresTestContext;

beforeAll(async () => {
  pg = await startPostgresTestContext();
});
afterAll(async () => {
  await pg?.close();
});

async function columns(schema: string, table: string) {
  return await pg.query<{ column_name: string; data_type: string; is_nullable: string }>(
    `select column_name, data_type, is_nullable from information_schema.columns
     where table_schema = $1 and table_name = $2 order by ordinal_position`,
    [schema, table],
  );
}

async function tables(schema: string): Promise<string[]> {
  const rows = await pg.query<{ table_name: string }>(
    "select table_name from information_schema.tables where table_schema = $1 order by 1",
    [schema],
  );
  return rows.map((row) => row.table_name);
}

describe("the migration runner", () => {
  it("applies every migration once, and a second run changes nothing", async () => {
    const schema = `${pg.schema}_a`;
    const options = { neonWsProxy: pg.neonWsProxy, schema };
    const first = await migrate(pg.databaseUrl, options);
    expect(first).toEqual({
      applied: ["0001_realtime_presence.sql", "0002_users.sql", "0003_notifications.sql"],
      unchanged: [],
      skipped: [],
    });
    const second = await migrate(pg.databaseUrl, options);
    expect(second).toEqual({ applied: [], unchanged: first.applied, skipped: [] });

    expect(await tables(schema)).toEqual([
      "notifications",
      "realtime_migrations",
      "realtime_presence",
      "users",
    ]);
    expect(await columns(schema, "realtime_presence")).toEqual([
      { column_name: "user_id", data_type: "text", is_nullable: "NO" },
      { column_name: "is_online", data_type: "boolean", is_nullable: "NO" },
      { column_name: "connection_count", data_type: "integer", is_nullable: "NO" },
      { column_name: "last_seen", data_type: "timestamp with time zone", is_nullable: "YES" },
      { column_name: "version", data_type: "bigint", is_nullable: "NO" },
      { column_name: "updated_at", data_type: "timestamp with time zone", is_nullable: "NO" },
    ]);
    expect((await columns(schema, "users")).map((c) => c.column_name)).toEqual([
      "id",
      "username",
      "is_staff",
      "is_superuser",
      "is_online",
      "last_seen",
    ]);
    const indexes = await pg.query<{ indexdef: string }>(
      "select indexdef from pg_indexes where schemaname = $1 and tablename = 'notifications'",
      [schema],
    );
    expect(indexes.map((i) => i.indexdef)).toContainEqual(
      expect.stringMatching(/\(user_id, created_at\)/),
    );
    await pg.query(`drop schema "${schema}" cascade`);
  });

  it("leaves the users table alone when USERS_TABLE names the application's own", async () => {
    const schema = `${pg.schema}_b`;
    const options = { neonWsProxy: pg.neonWsProxy, schema, usersTable: "users_user" };
    const first = await migrate(pg.databaseUrl, options);
    expect(first.skipped).toEqual(["0002_users.sql"]);
    expect(first.applied).toEqual(["0001_realtime_presence.sql", "0003_notifications.sql"]);
    expect(await tables(schema)).not.toContain("users");

    // Skipped is not recorded: pointing USERS_TABLE back at the default creates it then.
    const later = await migrate(pg.databaseUrl, { ...options, usersTable: "users" });
    expect(later.applied).toEqual(["0002_users.sql"]);
    expect(await tables(schema)).toContain("users");
    await pg.query(`drop schema "${schema}" cascade`);
  });

  it("rolls a failing migration back whole and does not record it", async () => {
    const schema = `${pg.schema}_c`;
    const dir = mkdtempSync(join(tmpdir(), "migrations-"));
    writeFileSync(join(dir, "0001_ok.sql"), "create table ok (id int);");
    writeFileSync(
      join(dir, "0002_bad.sql"),
      "create table half (id int);\ninsert into half values ('not a number');",
    );
    const options = { neonWsProxy: pg.neonWsProxy, schema, migrationsDir: dir };
    const failure = await migrate(pg.databaseUrl, options).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(MigrationError);
    expect(failure).toMatchObject({ migration: "0002_bad.sql" });
    expect(await tables(schema)).toEqual(["ok", "realtime_migrations"]);
    const recorded = await pg.query<{ name: string }>(
      `select name from "${schema}".realtime_migrations`,
    );
    expect(recorded).toEqual([{ name: "0001_ok.sql" }]);
    await pg.query(`drop schema "${schema}" cascade`);
  });

  it("refuses a schema name that is not a plain identifier", async () => {
    await expect(
      migrate(pg.databaseUrl, { neonWsProxy: pg.neonWsProxy, schema: "x; drop table y" }),
    ).rejects.toThrow(/schema must be a plain SQL identifier/);
  });
});
