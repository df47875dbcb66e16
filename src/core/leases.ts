/**
 * Connections held by another actor (consultation sockets in a RoomHub) but counted in this
 * user's presence. Each is a lease with an expiry: the holder renews it while the socket
 * lives, and a lease nobody renews (the holder crashed) expires, so no crash leaves a user
 * online.
 *
 * Kept in SQLite and mirrored in memory: every change goes through this object (one per actor,
 * single-threaded), and the connection count is read on every socket event.
 */
import { LazyTable, type Sql } from "./sql.ts";

export interface Lease {
  connectionId: string;
  room: string;
  /** ms since epoch */
  expiresAt: number;
}

export class Leases {
  private readonly sql: Sql;
  private readonly table: LazyTable;
  private cache: Map<string, Lease> | null = null;

  constructor(sql: Sql) {
    this.sql = sql;
    this.table = new LazyTable(sql, "leases", [
      "CREATE TABLE IF NOT EXISTS leases (connection_id TEXT PRIMARY KEY, room TEXT NOT NULL, expires_at INTEGER NOT NULL)",
    ]);
  }

  private leases(): Map<string, Lease> {
    if (this.cache === null) {
      const rows = this.table.exists()
        ? this.sql
            .exec<{ connection_id: string; room: string; expires_at: number }>(
              "SELECT connection_id, room, expires_at FROM leases",
            )
            .toArray()
        : [];
      this.cache = new Map(
        rows.map((row) => [
          row.connection_id,
          { connectionId: row.connection_id, room: row.room, expiresAt: row.expires_at },
        ]),
      );
    }
    return this.cache;
  }

  add(lease: Lease): void {
    this.table.ensure();
    this.sql.exec(
      `INSERT INTO leases (connection_id, room, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (connection_id) DO UPDATE SET expires_at = excluded.expires_at`,
      lease.connectionId,
      lease.room,
      lease.expiresAt,
    );
    this.leases().set(lease.connectionId, { ...lease });
  }

  /** Extend these leases of `room`; unknown ids are added back (a renewal after a lost detach is harmless). */
  renew(room: string, connectionIds: readonly string[], expiresAt: number): void {
    for (const connectionId of connectionIds) this.add({ connectionId, room, expiresAt });
  }

  /** Remove one lease; returns its room, or null when it was not held. */
  remove(connectionId: string): string | null {
    const lease = this.leases().get(connectionId);
    if (lease === undefined) return null;
    this.sql.exec("DELETE FROM leases WHERE connection_id = ?", connectionId);
    this.leases().delete(connectionId);
    return lease.room;
  }

  /** Remove expired leases; returns them. */
  expire(now: number): Lease[] {
    const expired = [...this.leases().values()].filter((lease) => lease.expiresAt <= now);
    for (const lease of expired) this.remove(lease.connectionId);
    return expired;
  }

  all(): Lease[] {
    return [...this.leases().values()].sort((a, b) => a.connectionId.localeCompare(b.connectionId));
  }

  nextExpiry(): number | null {
    let next: number | null = null;
    for (const lease of this.leases().values())
      next = next === null ? lease.expiresAt : Math.min(next, lease.expiresAt);
    return next;
  }
}
