/**
 * PresenceShard: the online users of one shard (user → shard by a stable hash). UserHubs keep
 * it current through their outbox; it answers "who is online" and fans broadcasts out to its
 * online users only, so a broadcast costs the number of online users, not of all users seen.
 */
import { DurableObject } from "cloudflare:workers";
import { mapBounded } from "../core/bounded.ts";
import type { Delivery } from "../core/delivery.ts";

/** How many UserHub deliveries one shard keeps in flight during a broadcast. */
const FANOUT_CONCURRENCY = 128;

export interface OnlineUser {
  user_id: string;
  connection_count: number;
}

export class PresenceShard extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS online (
         user_id TEXT PRIMARY KEY, connection_count INTEGER NOT NULL, version INTEGER NOT NULL)`,
    );
  }

  /** A user's latest presence; an older version than the stored one is ignored. */
  update(userId: string, isOnline: boolean, connectionCount: number, version: number): void {
    if (isOnline) {
      this.ctx.storage.sql.exec(
        `INSERT INTO online (user_id, connection_count, version) VALUES (?, ?, ?)
         ON CONFLICT (user_id) DO UPDATE SET connection_count = excluded.connection_count,
           version = excluded.version WHERE excluded.version > online.version`,
        userId,
        connectionCount,
        version,
      );
    } else {
      this.ctx.storage.sql.exec(
        "DELETE FROM online WHERE user_id = ? AND version < ?",
        userId,
        version,
      );
    }
  }

  online(): OnlineUser[] {
    return this.ctx.storage.sql
      .exec<{ user_id: string; connection_count: number }>(
        "SELECT user_id, connection_count FROM online ORDER BY user_id",
      )
      .toArray();
  }

  /** Ask every online user of this shard to write its state to `target` again. */
  async rewrite(target: "redis" | "postgres"): Promise<void> {
    await mapBounded(this.online(), FANOUT_CONCURRENCY, async ({ user_id }) => {
      try {
        await this.env.USER_HUB.getByName(user_id).rewriteMirror(target);
      } catch (err) {
        console.warn(`PresenceShard:rewrite: ${user_id} failed: ${String(err)}`);
      }
    });
  }

  /** Deliver to every online user of this shard; returns how many users it reached. */
  async broadcast(delivery: Delivery): Promise<number> {
    const users = this.online();
    const reached = await mapBounded(users, FANOUT_CONCURRENCY, async ({ user_id }) => {
      try {
        const result = await this.env.USER_HUB.getByName(user_id).deliver(user_id, delivery);
        return result.status === "delivered" || result.status === "duplicate";
      } catch (err) {
        console.warn(`PresenceShard:broadcast: delivery to ${user_id} failed: ${String(err)}`);
        return false;
      }
    });
    return reached.filter(Boolean).length;
  }
}
