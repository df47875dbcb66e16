/**
 * Who is in a room, kept in its actor's SQLite: the members (each user id with the ids of the
 * user-socket connections that joined) and, for a consultation, the participants who ever
 * opened a room socket (with the username they had then), for `consultation_state`.
 */
import type { Sql } from "./sql.ts";

export interface Participant {
  userId: string;
  username: string;
}

export class RoomMembers {
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS members (
      user_id TEXT NOT NULL, connection_id TEXT NOT NULL, PRIMARY KEY (user_id, connection_id))`);
    sql.exec(
      "CREATE TABLE IF NOT EXISTS participants (user_id TEXT PRIMARY KEY, username TEXT NOT NULL)",
    );
  }

  join(userId: string, connectionId: string): void {
    this.sql.exec(
      "INSERT INTO members (user_id, connection_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
      userId,
      connectionId,
    );
  }

  leave(userId: string, connectionId: string): void {
    this.sql.exec(
      "DELETE FROM members WHERE user_id = ? AND connection_id = ?",
      userId,
      connectionId,
    );
  }

  /** Remove every membership of this user (none of their sockets has the room joined). */
  drop(userId: string): void {
    this.sql.exec("DELETE FROM members WHERE user_id = ?", userId);
  }

  /** Keep only the memberships of `userId` whose connection is in `live`. */
  keepOnly(userId: string, live: ReadonlySet<string>): void {
    for (const connectionId of this.connectionsOf(userId)) {
      if (!live.has(connectionId)) this.leave(userId, connectionId);
    }
  }

  connectionsOf(userId: string): string[] {
    return this.sql
      .exec<{ connection_id: string }>(
        "SELECT connection_id FROM members WHERE user_id = ? ORDER BY connection_id",
        userId,
      )
      .toArray()
      .map((row) => row.connection_id);
  }

  userIds(): Set<string> {
    const rows = this.sql
      .exec<{ user_id: string }>("SELECT DISTINCT user_id FROM members")
      .toArray();
    return new Set(rows.map((row) => row.user_id));
  }

  /** How many users are members, counted in SQLite (no row reaches JavaScript). */
  count(): number {
    const [row] = this.sql
      .exec<{ n: number }>("SELECT COUNT(DISTINCT user_id) AS n FROM members")
      .toArray();
    return row?.n ?? 0;
  }

  isMember(userId: string): boolean {
    return (
      this.sql.exec("SELECT 1 FROM members WHERE user_id = ? LIMIT 1", userId).toArray().length > 0
    );
  }

  /** Remember a participant (a later socket of theirs updates the username). */
  addParticipant(participant: Participant): void {
    this.sql.exec(
      "INSERT INTO participants (user_id, username) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET username = excluded.username",
      participant.userId,
      participant.username,
    );
  }

  participants(): Participant[] {
    return this.sql
      .exec<{ user_id: string; username: string }>(
        "SELECT user_id, username FROM participants ORDER BY user_id",
      )
      .toArray()
      .map((row) => ({ userId: row.user_id, username: row.username }));
  }
}
