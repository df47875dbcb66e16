// Applies migrations/*.sql in name order, each in its own transaction, and records them in
// `realtime_migrations` so a second run does nothing. Goes through the Neon driver, like the
// Worker, so NEON_WS_PROXY (a local WebSocket-to-TCP proxy) is honoured.
//
//   DATABASE_URL=postgres://… [NEON_WS_PROXY=127.0.0.1:5488/v1] [USERS_TABLE=users] npm run migrate
//
// A file whose first lines contain `-- migrate: only-default-users-table` runs only when
// USERS_TABLE is the default "users"; skipped, it is not recorded, so it still applies if the
// setting changes later.

import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import ws from "ws";
import { quoteIdentifier } from "../src/mirrors/identifiers.ts";
import { withNeonClient } from "../src/mirrors/neon.ts";

export interface MigrateOptions {
  /** NEON_WS_PROXY, e.g. "127.0.0.1:5488/v1". Unset: connect like real Neon. */
  neonWsProxy?: string | undefined;
  /** USERS_TABLE. Default "users". Anything else skips the default users table migration. */
  usersTable?: string | undefined;
  /**
   * Create and use this schema instead of the connection's default (tests use a schema per
   * run). Default: none, i.e. the search_path of the connection.
   */
  schema?: string | undefined;
  /** Folder with the .sql files. Default: the repository's migrations/. */
  migrationsDir?: string;
  /** Progress lines; default silent. */
  log?: (line: string) => void;
}

export interface MigrateResult {
  applied: string[];
  /** Already recorded by an earlier run. */
  unchanged: string[];
  /** Not applicable to this configuration (not recorded). */
  skipped: string[];
}

export class MigrationError extends Error {
  override readonly name = "MigrationError";
  readonly migration: string;
  constructor(migration: string, cause: unknown) {
    super(
      `migration ${migration} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause,
      },
    );
    this.migration = migration;
  }
}

const DEFAULT_DIR = join(import.meta.dirname, "..", "migrations");
/** Any constant works; it only has to be the same for every runner of this project. */
const ADVISORY_LOCK_KEY = 7_310_455_112;

interface Migration {
  name: string;
  sql: string;
  onlyDefaultUsersTable: boolean;
}

async function loadMigrations(dir: string): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith(".sql")).sort();
  return await Promise.all(
    names.map(async (name) => {
      const sql = await readFile(join(dir, name), "utf8");
      const header = sql.split("\n").slice(0, 5).join("\n");
      return {
        name,
        sql,
        onlyDefaultUsersTable: /^-- migrate: only-default-users-table$/m.test(header),
      };
    }),
  );
}

export async function migrate(
  databaseUrl: string,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  const usersTable = options.usersTable || "users";
  const schema = options.schema ? quoteIdentifier(options.schema, "schema") : undefined;
  const migrations = await loadMigrations(options.migrationsDir ?? DEFAULT_DIR);
  const result: MigrateResult = { applied: [], unchanged: [], skipped: [] };

  await withNeonClient(
    { databaseUrl, neonWsProxy: options.neonWsProxy, webSocketConstructor: ws },
    async (client) => {
      if (schema) {
        await client.query(`create schema if not exists ${schema}`);
        await client.query(`set search_path to ${schema}`);
      }
      // Two runners starting together (dev stack and a test setup) take turns instead of racing.
      await client.query("select pg_advisory_lock($1)", [ADVISORY_LOCK_KEY]);
      try {
        await client.query(`create table if not exists realtime_migrations (
          name text primary key,
          applied_at timestamptz not null default now()
        )`);
        const done = new Set(
          (await client.query<{ name: string }>("select name from realtime_migrations")).rows.map(
            (row) => row.name,
          ),
        );
        for (const migration of migrations) {
          if (done.has(migration.name)) {
            result.unchanged.push(migration.name);
          } else if (migration.onlyDefaultUsersTable && usersTable !== "users") {
            log(`skip   ${migration.name} (USERS_TABLE=${usersTable})`);
            result.skipped.push(migration.name);
          } else {
            await client.query("begin");
            try {
              await client.query(migration.sql);
              await client.query("insert into realtime_migrations (name) values ($1)", [
                migration.name,
              ]);
              await client.query("commit");
            } catch (err) {
              await client.query("rollback").catch(() => {});
              throw new MigrationError(migration.name, err);
            }
            log(`apply  ${migration.name}`);
            result.applied.push(migration.name);
          }
        }
      } finally {
        await client.query("select pg_advisory_unlock($1)", [ADVISORY_LOCK_KEY]).catch(() => {});
      }
    },
  );
  return result;
}

if (import.meta.main) {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    console.error("migrate: set DATABASE_URL (and NEON_WS_PROXY for a local Postgres)");
    process.exit(2);
  }
  try {
    const result = await migrate(databaseUrl, {
      neonWsProxy: process.env.NEON_WS_PROXY,
      usersTable: process.env.USERS_TABLE,
      log: (line) => console.log(`migrate: ${line}`),
    });
    console.log(
      `migrate: ${result.applied.length} applied, ${result.unchanged.length} already applied, ${result.skipped.length} skipped`,
    );
  } catch (err) {
    console.error(`migrate: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
