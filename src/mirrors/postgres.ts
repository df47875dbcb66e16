// The Postgres presence mirror over the Neon driver: our `realtime_presence` row and the
// application's user flag, in one statement (so one transaction), only when the presence
// version advances.
// By default one session per call (connect → queries → end: see withNeonClient for why); the
// PostgresQueue actor passes `sessions` so that many calls share one session (SessionQueue).

import type { Client } from "@neondatabase/serverless";
import type { RefusedNotification } from "../core/notification-outbox.ts";
import type { OpenSession } from "../core/session-queue.ts";
import { quoteIdentifier, quoteTableName } from "./identifiers.ts";
import { type NeonConnectionOptions, withNeonClient } from "./neon.ts";
import {
  MirrorWriteError,
  type NotificationRecord,
  type NotificationWriteResult,
  type PostgresMirror,
  type PostgresWriteResult,
  type PresenceSnapshot,
} from "./types.ts";

/** Where the application keeps its users, and whether the gateway may create rows there. */
export interface UsersTableSettings {
  /** USERS_TABLE, optionally schema-qualified. Default "users". */
  table: string;
  /** USERS_ID_COLUMN. Default "id". Integer and text columns both work. */
  idColumn: string;
  /** USERS_ONLINE_COLUMN. Default "is_online". */
  onlineColumn: string;
  /** USERS_LAST_SEEN_COLUMN; "" when the table has none. Default "last_seen". */
  lastSeenColumn: string;
  /**
   * USERS_MANAGED. true: the gateway owns the table and upserts a row (username, is_staff,
   * is_superuser columns) the first time it sees a user. false: an existing application's
   * table; only rows that exist are updated, nothing is inserted or altered. Default true.
   */
  managed: boolean;
}

export interface NeonPostgresMirrorOptions extends NeonConnectionOptions {
  users?: Partial<UsersTableSettings>;
  /** Schema of `realtime_presence` and `notifications`. Default: the connection's search_path. */
  schema?: string;
  /**
   * How a call gets its session. Default: a session of its own (`withNeonClient` with these
   * options); the PostgresQueue actor passes a SessionQueue's `run`, so calls share sessions.
   */
  sessions?: OpenSession<Client>;
}

/** How the user id is compared, chosen from the id column's type (see #idPredicate). */
type IdComparison = "bigint" | "text" | "as-text";

const INTEGER_TYPES = new Set(["smallint", "integer", "bigint"]);
/** A user id that fits a bigint; anything else cannot match an integer id column. */
const BIGINT_TEXT = /^-?\d{1,18}$/;

/**
 * `SQLSTATE: message` when Postgres refused a statement for the values in it: class 22 (data
 * exception: U+0000 in text, 22021; `\u0000` in jsonb, 22P05; a lone surrogate in jsonb, 22P02;
 * a bad timestamp) or 23 (constraint). The same row fails again on every retry. null for
 * anything else: a lost connection (no SQLSTATE), a missing table (42P01), too many clients
 * (53300), which say nothing about one row and must not park it.
 */
function rowRefusal(err: unknown): string | null {
  if (typeof err !== "object" || err === null) return null;
  if (!("code" in err) || !("severity" in err) || typeof err.code !== "string") return null;
  if (!/^2[23][0-9A-Z]{3}$/.test(err.code)) return null;
  const message = "message" in err && typeof err.message === "string" ? err.message : "";
  return `${err.code}: ${message.slice(0, 200)}`;
}

/** Bound parameters of one statement: `add` returns the placeholder (`$n`) for a value. */
class Bindings {
  readonly values: unknown[] = [];

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }

  addAll(...values: unknown[]): string[] {
    return values.map((value) => this.add(value));
  }
}

export class NeonPostgresMirror implements PostgresMirror {
  readonly #sessions: OpenSession<Client>;
  readonly #managed: boolean;
  readonly #sql: {
    presence: string;
    notifications: string;
    users: string;
    id: string;
    online: string;
    lastSeen: string | null;
  };
  /** Learnt once per mirror instance from the catalog. */
  #idComparison: IdComparison | undefined;

  constructor(options: NeonPostgresMirrorOptions) {
    const users = options.users ?? {};
    const own = (table: string) =>
      options.schema ? `${quoteIdentifier(options.schema, "schema")}.${table}` : table;
    const lastSeen = users.lastSeenColumn ?? "last_seen";
    const table = users.table ?? "users";
    // Validated here, when the mirror is built, so a bad setting fails at start with its name.
    this.#sql = {
      presence: own('"realtime_presence"'),
      notifications: own('"notifications"'),
      users: quoteTableName(table, "USERS_TABLE"),
      id: quoteIdentifier(users.idColumn ?? "id", "USERS_ID_COLUMN"),
      online: quoteIdentifier(users.onlineColumn ?? "is_online", "USERS_ONLINE_COLUMN"),
      lastSeen: lastSeen === "" ? null : quoteIdentifier(lastSeen, "USERS_LAST_SEEN_COLUMN"),
    };
    this.#managed = users.managed ?? true;
    const connection: NeonConnectionOptions = {
      databaseUrl: options.databaseUrl,
      neonWsProxy: options.neonWsProxy,
      webSocketConstructor: options.webSocketConstructor,
      connectTimeoutMs: options.connectTimeoutMs,
      queryTimeoutMs: options.queryTimeoutMs,
    };
    this.#sessions = options.sessions ?? ((work) => withNeonClient(connection, work));
  }

  /**
   * One statement: a data-modifying CTE upserts the presence row (only when the version
   * advances) and writes the user table only if that upsert returned a row. A single statement
   * is its own transaction, so both tables change together or not at all, with one round trip
   * instead of begin / upsert / update / commit. (The id column's type is read from the catalog
   * once per mirror instance, before the first write.)
   */
  async write(snapshot: PresenceSnapshot): Promise<PostgresWriteResult> {
    return await this.#session(async (client) => {
      const comparison = await this.#idComparisonFor(client);
      const params = new Bindings();
      const presence = params.addAll(
        snapshot.userId,
        snapshot.isOnline,
        snapshot.connectionCount,
        snapshot.lastSeen,
        snapshot.version,
      );
      const userWrite = this.#userWrite(snapshot, comparison, params);
      // Data-modifying CTEs all run to completion, read or not, and see the same snapshot; the
      // user write depends on `applied` only through `exists`, which is what makes it conditional.
      const result = await client.query<{ applied: number; user_rows: number }>(
        `with applied as (
           insert into ${this.#sql.presence} as p
             (user_id, is_online, connection_count, last_seen, version, updated_at)
           values (${presence.join(", ")}, now())
           on conflict (user_id) do update set
             is_online = excluded.is_online,
             connection_count = excluded.connection_count,
             last_seen = excluded.last_seen,
             version = excluded.version,
             updated_at = now()
           where p.version < excluded.version
           returning 1
         )${userWrite === null ? "" : `, written as (${userWrite})`}
         select (select count(*) from applied)::int as applied,
                ${userWrite === null ? "0" : "(select count(*) from written)::int"} as user_rows`,
        params.values,
      );
      const row = result.rows[0];
      return { applied: (row?.applied ?? 0) > 0, userRows: row?.user_rows ?? 0 };
    });
  }

  /**
   * One multi-row insert; when Postgres refuses it for its content, each row alone in the same
   * session, so one bad row never holds back the others (see PostgresMirror).
   */
  async recordNotifications(
    records: readonly NotificationRecord[],
  ): Promise<NotificationWriteResult> {
    if (records.length === 0) return { refused: [] };
    return await this.#session(async (client) => {
      try {
        await this.#insertNotifications(client, records);
        return { refused: [] };
      } catch (err) {
        if (rowRefusal(err) === null) throw err;
      }
      const refused: RefusedNotification[] = [];
      for (const record of records) {
        try {
          await this.#insertNotifications(client, [record]);
        } catch (err) {
          const reason = rowRefusal(err);
          if (reason === null) throw err;
          refused.push({ id: record.id, reason });
        }
      }
      return { refused };
    });
  }

  async #insertNotifications(
    client: Client,
    records: readonly NotificationRecord[],
  ): Promise<void> {
    const params: unknown[] = [];
    const rows = records.map((record) => {
      const base = params.length;
      params.push(
        record.id,
        record.userId,
        record.title,
        record.message,
        record.data === undefined ? null : JSON.stringify(record.data),
        record.createdAt,
        record.deliveredAt,
      );
      const p = (i: number) => `$${base + i}`;
      return `(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}::jsonb, ${p(6)}::timestamptz, ${p(7)}::timestamptz)`;
    });
    await client.query(
      `insert into ${this.#sql.notifications}
         (id, user_id, title, message, data, created_at, delivered_at)
       values ${rows.join(", ")}
       on conflict (id) do nothing`,
      params,
    );
  }

  async userExists(userId: string): Promise<boolean> {
    return await this.#session(async (client) => {
      const comparison = await this.#idComparisonFor(client);
      const params = new Bindings();
      const id = this.#idPredicate(comparison, userId, params);
      if (id === null) return false;
      const result = await client.query(
        `select 1 from ${this.#sql.users} where ${id} limit 1`,
        params.values,
      );
      return (result.rowCount ?? 0) > 0;
    });
  }

  /**
   * The user-table part of the presence statement, as a CTE body that only writes when the
   * presence upsert (`applied`) did: the online flag and last seen, or in managed mode the
   * whole row. null when no row can match this id, so only the presence row is written.
   */
  #userWrite(
    snapshot: PresenceSnapshot,
    comparison: IdComparison,
    params: Bindings,
  ): string | null {
    const { users, id: idCol, online, lastSeen } = this.#sql;
    // Last seen: now while online (seen now), the moment of going offline otherwise.
    const seenAt = snapshot.isOnline ? new Date().toISOString() : snapshot.lastSeen;

    if (this.#managed) {
      // An integer-keyed table cannot hold this id; inserting would fail the whole statement.
      if (comparison === "bigint" && !BIGINT_TEXT.test(snapshot.userId)) return null;
      // INSERT … SELECT rather than VALUES, for the WHERE; Postgres still types each parameter
      // from its target column.
      const values = params.addAll(
        snapshot.userId,
        snapshot.username ?? null,
        snapshot.isStaff ?? false,
        snapshot.isSuperuser ?? false,
        snapshot.isOnline,
      );
      if (lastSeen) values.push(`${params.add(seenAt)}::timestamptz`);
      return `insert into ${users} as u (${idCol}, username, is_staff, is_superuser, ${online}${lastSeen ? `, ${lastSeen}` : ""})
         select ${values.join(", ")}
         where exists (select 1 from applied)
         on conflict (${idCol}) do update set
           ${online} = excluded.${online},
           ${lastSeen ? `${lastSeen} = excluded.${lastSeen},` : ""}
           username = coalesce(excluded.username, u.username),
           is_staff = coalesce(excluded.is_staff, u.is_staff),
           is_superuser = coalesce(excluded.is_superuser, u.is_superuser)
         returning 1`;
    }

    // First: when no row can match, nothing may be bound (an unused parameter has no type).
    const id = this.#idPredicate(comparison, snapshot.userId, params);
    if (id === null) return null;
    const flag = params.add(snapshot.isOnline);
    const seen = lastSeen ? `, ${lastSeen} = ${params.add(seenAt)}::timestamptz` : "";
    // Only rows whose flag actually changes, so the application's table (and its triggers)
    // sees one write per flip, not one per connection change.
    return `update ${users} set ${online} = ${flag}${seen}
         where ${id} and ${online} is distinct from ${flag} and exists (select 1 from applied)
         returning 1`;
  }

  /**
   * `"id" = $n` in a form that can use the primary key index. Comparing `"id"::text = $n` would
   * work for every column type but turns each flip into a scan of the application's table, so
   * integer ids get the parameter cast to bigint instead (and an id that is not an integer
   * cannot match, rather than failing the statement with "invalid input syntax"). Text ids
   * compare directly; other types (uuid, …) fall back to the text comparison.
   * Returns null (and binds nothing) when no row can match.
   */
  #idPredicate(comparison: IdComparison, userId: string, params: Bindings): string | null {
    const column = this.#sql.id;
    switch (comparison) {
      case "bigint":
        return BIGINT_TEXT.test(userId) ? `${column} = ${params.add(userId)}::bigint` : null;
      case "text":
        return `${column} = ${params.add(userId)}::text`;
      case "as-text":
        return `${column}::text = ${params.add(userId)}`;
    }
  }

  async #idComparisonFor(client: Client): Promise<IdComparison> {
    if (this.#idComparison) return this.#idComparison;
    const result = await client.query<{ type: string }>(
      `select format_type(a.atttypid, null) as type
       from pg_attribute a
       where a.attrelid = to_regclass($1) and a.attname = $2 and not a.attisdropped`,
      [this.#sql.users, this.#sql.id.slice(1, -1)],
    );
    const type = result.rows[0]?.type;
    if (type === undefined) {
      throw new Error(
        `USERS_TABLE ${this.#sql.users} has no column ${this.#sql.id} (or does not exist)`,
      );
    }
    this.#idComparison = INTEGER_TYPES.has(type)
      ? "bigint"
      : type === "text" || type.startsWith("character")
        ? "text"
        : "as-text";
    return this.#idComparison;
  }

  async #session<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    try {
      return await this.#sessions(fn);
    } catch (err) {
      throw new MirrorWriteError("postgres", err);
    }
  }
}
