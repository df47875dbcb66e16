/**
 * Connections held by another actor (consultation sockets in a RoomHub) but counted in this
 * user's presence. Each is a lease with an expiry: the holder renews it while the socket
 * lives, and a lease nobody renews (the holder crashed) expires, so no crash leaves a user
 * online.
 */
import type { SqlPort } from "./sql.ts";

export interface Lease {
  connectionId: string;
  room: string;
  /** ms since epoch */
  expiresAt: number;
}

export class Leases {
  private readonly sql: SqlPort;

  constructor(sql: SqlPort) {
    this.sql = sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS leases (
      connection_id TEXT PRIMARY KEY, room TEXT NOT NULL, expires_at INTEGER NOT NULL)`);
  }

  add(lease: Lease): void {
    this.sql.exec(
      `INSERT INTO leases (connection_id, room, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (connection_id) DO UPDATE SET expires_at = excluded.expires_at`,
      lease.connectionId,
      lease.room,
      lease.expiresAt,
    );
  }

  /** Extend these leases of `room`; unknown ids are added back (a renewal after a lost detach is harmless). */
  renew(room: string, connectionIds: readonly string[], expiresAt: number): void {
    for (const connectionId of connectionIds) this.add({ connectionId, room, expiresAt });
  }

  /** Remove one lease; returns its room, or null when it was not held. */
  remove(connectionId: string): string | null {
    const [row] = this.sql
      .exec<{ room: string }>(
        "DELETE FROM leases WHERE connection_id = ? RETURNING room",
        connectionId,
      )
      .toArray();
    return row?.room ?? null;
  }

  /** Remove expired leases; returns them. */
  expire(now: number): Lease[] {
    return this.sql
      .exec<{ connection_id: string; room: string; expires_at: number }>(
        "DELETE FROM leases WHERE expires_at <= ? RETURNING connection_id, room, expires_at",
        now,
      )
      .toArray()
      .map((row) => ({
        connectionId: row.connection_id,
        room: row.room,
        expiresAt: row.expires_at,
      }));
  }

  all(): Lease[] {
    return this.sql
      .exec<{ connection_id: string; room: string; expires_at: number }>(
        "SELECT connection_id, room, expires_at FROM leases ORDER BY connection_id",
      )
      .toArray()
      .map((row) => ({
        connectionId: row.connection_id,
        room: row.room,
        expiresAt: row.expires_at,
      }));
  }

  nextExpiry(): number | null {
    const [row] = this.sql
      .exec<{ t: number | null }>("SELECT min(expires_at) AS t FROM leases")
      .toArray();
    return row?.t ?? null;
  }
}
