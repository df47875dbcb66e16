// The Postgres presence mirror over the Neon driver: our `realtime_presence` row and the
// application's user flag, in one transaction, only when the presence version advances.
// One session per call (connect → queries → end): see withNeonClient for why.

import type { Client } from "@neondatabase/serverless";
import { quoteIdentifier, quoteTableName } from "./identifiers.ts";
import { type NeonConnectionOptions, withNeonClient } from "./neon.ts";
import {
  MirrorWriteError,
  type NotificationRecord,
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
}

/** How the user id is compared, chosen from the id column's type (see #idPredicate). */
type IdComparison = "bigint" | "text" | "as-text";

const INTEGER_TYPES = new Set(["smallint", "integer", "bigint"]);
/** A user id that fits a bigint; anything else cannot match an integer id column. */
const BIGINT_TEXT = /^-?\d{1,18}$/;

export class NeonPostgresMirror implements PostgresMirror {
  readonly #connection: NeonConnectionOptions;
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
    this.#connection = {
      databaseUrl: options.databaseUrl,
      neonWsProxy: options.neonWsProxy,
      webSocketConstructor: options.webSocketConstructor,
      connectTimeoutMs: options.connectTimeoutMs,
      queryTimeoutMs: options.queryTimeoutMs,
    };
  }

  async write(snapshot: PresenceSnapshot): Promise<PostgresWriteResult> {
    return await this.#session(async (client) => {
      const comparison = await this.#idComparisonFor(client);
      await client.query("begin");
      try {
        const upsert = await client.query(
          `insert into ${this.#sql.presence} as p
             (user_id, is_online, connection_count, last_seen, version, updated_at)
           values ($1, $2, $3, $4, $5, now())
           on conflict (user_id) do update set
             is_online = excluded.is_online,
             connection_count = excluded.connection_count,
             last_seen = excluded.last_seen,
             version = excluded.version,
             updated_at = now()
           where p.version < excluded.version
           returning p.user_id`,
          [
            snapshot.userId,
            snapshot.isOnline,
            snapshot.connectionCount,
            snapshot.lastSeen,
            snapshot.version,
          ],
        );
        const applied = (upsert.rowCount ?? 0) > 0;
        const userRows = applied ? await this.#writeUser(client, snapshot, comparison) : 0;
        await client.query("commit");
        return { applied, userRows };
      } catch (err) {
        await client.query("rollback").catch(() => {});
        throw err;
      }
    });
  }

  async recordNotifications(records: readonly NotificationRecord[]): Promise<void> {
    if (records.length === 0) return;
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
    await this.#session((client) =>
      client.query(
        `insert into ${this.#sql.notifications}
           (id, user_id, title, message, data, created_at, delivered_at)
         values ${rows.join(", ")}
         on conflict (id) do nothing`,
        params,
      ),
    );
  }

  async userExists(userId: string): Promise<boolean> {
    return await this.#session(async (client) => {
      const comparison = await this.#idComparisonFor(client);
      const id = this.#idPredicate(comparison, userId);
      if (id === null) return false;
      const result = await client.query(
        `select 1 from ${this.#sql.users} where ${id.sql} limit 1`,
        id.params,
      );
      return (result.rowCount ?? 0) > 0;
    });
  }

  /** The application's online flag (and last seen), or in managed mode the whole row. */
  async #writeUser(
    client: Client,
    snapshot: PresenceSnapshot,
    comparison: IdComparison,
  ): Promise<number> {
    const { users, id: idCol, online, lastSeen } = this.#sql;
    // Last seen: now while online (seen now), the moment of going offline otherwise.
    const seenAt = snapshot.isOnline ? new Date().toISOString() : snapshot.lastSeen;

    if (this.#managed) {
      // An integer-keyed table cannot hold this id; inserting would fail the whole transaction.
      if (comparison === "bigint" && !BIGINT_TEXT.test(snapshot.userId)) return 0;
      const result = await client.query(
        `insert into ${users} as u (${idCol}, username, is_staff, is_superuser, ${online}${lastSeen ? `, ${lastSeen}` : ""})
         values ($1, $2, $3, $4, $5${lastSeen ? ", $6::timestamptz" : ""})
         on conflict (${idCol}) do update set
           ${online} = excluded.${online},
           ${lastSeen ? `${lastSeen} = excluded.${lastSeen},` : ""}
           username = coalesce(excluded.username, u.username),
           is_staff = coalesce(excluded.is_staff, u.is_staff),
           is_superuser = coalesce(excluded.is_superuser, u.is_superuser)`,
        [
          snapshot.userId,
          snapshot.username ?? null,
          snapshot.isStaff ?? false,
          snapshot.isSuperuser ?? false,
          snapshot.isOnline,
          ...(lastSeen ? [seenAt] : []),
        ],
      );
      return result.rowCount ?? 0;
    }

    const params: unknown[] = lastSeen ? [snapshot.isOnline, seenAt] : [snapshot.isOnline];
    const id = this.#idPredicate(comparison, snapshot.userId, params.length + 1);
    if (id === null) return 0;
    // Only rows whose flag actually changes, so the application's table (and its triggers)
    // sees one write per flip, not one per connection change.
    const result = await client.query(
      `update ${users} set ${online} = $1${lastSeen ? `, ${lastSeen} = $2::timestamptz` : ""}
       where ${id.sql} and ${online} is distinct from $1`,
      [...params, ...id.params],
    );
    return result.rowCount ?? 0;
  }

  /**
   * `"id" = $n` in a form that can use the primary key index. Comparing `"id"::text = $n` would
   * work for every column type but turns each flip into a scan of the application's table, so
   * integer ids get the parameter cast to bigint instead (and an id that is not an integer
   * cannot match, rather than failing the transaction with "invalid input syntax"). Text ids
   * compare directly; other types (uuid, …) fall back to the text comparison.
   * Returns null when no row can match.
   */
  #idPredicate(
    comparison: IdComparison,
    userId: string,
    index = 1,
  ): { sql: string; params: unknown[] } | null {
    const column = this.#sql.id;
    switch (comparison) {
      case "bigint":
        return BIGINT_TEXT.test(userId)
          ? { sql: `${column} = $${index}::bigint`, params: [userId] }
          : null;
      case "text":
        return { sql: `${column} = $${index}::text`, params: [userId] };
      case "as-text":
        return { sql: `${column}::text = $${index}`, params: [userId] };
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
      return await withNeonClient(this.#connection, fn);
    } catch (err) {
      throw new MirrorWriteError("postgres", err);
    }
  }
}
