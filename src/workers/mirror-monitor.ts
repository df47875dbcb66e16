/**
 * MirrorMonitor: one Durable Object for the whole deployment that knows which users' mirrors
 * are behind, so `/health` can say `behind` and how old the oldest unwritten change is.
 * UserHubs only call it when a mirror starts failing for them and when it caught up again,
 * so a healthy system never calls it.
 */
import { DurableObject } from "cloudflare:workers";
import { loadConfig } from "../core/config.ts";
import { shardName } from "../core/sharding.ts";

export interface MirrorLag {
  /** Users whose latest change this mirror does not have yet. */
  users: number;
  /** When the oldest of those changes happened (ms since epoch), or null. */
  oldestSince: number | null;
}

export class MirrorMonitor extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS lag (
         target TEXT NOT NULL, user_id TEXT NOT NULL, since INTEGER NOT NULL,
         PRIMARY KEY (target, user_id))`,
    );
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS dead_letters (
         target TEXT NOT NULL, user_id TEXT NOT NULL, count INTEGER NOT NULL,
         PRIMARY KEY (target, user_id))`,
    );
  }

  /**
   * How many rows `target` refused for a user (they are parked in that user's actor); the
   * user's whole count, not an increment, so a repeated report cannot count twice.
   */
  reportDeadLetters(target: string, userId: string, count: number): void {
    if (count <= 0) {
      this.ctx.storage.sql.exec(
        "DELETE FROM dead_letters WHERE target = ? AND user_id = ?",
        target,
        userId,
      );
      return;
    }
    this.ctx.storage.sql.exec(
      `INSERT INTO dead_letters (target, user_id, count) VALUES (?, ?, ?)
       ON CONFLICT (target, user_id) DO UPDATE SET count = excluded.count`,
      target,
      userId,
      count,
    );
  }

  /** Dead letters parked across all users and targets. */
  deadLetters(): number {
    const [row] = this.ctx.storage.sql
      .exec<{ n: number | null }>(
        "SELECT sum(count) AS n FROM dead_letters WHERE target <> 'webhook_dropped'",
      )
      .toArray();
    return row?.n ?? 0;
  }

  /** A user's total of presence webhook events dropped unsent (too old, or over the cap). */
  reportWebhookDropped(userId: string, total: number): void {
    this.reportDeadLetters("webhook_dropped", userId, total);
  }

  /** Presence webhook events dropped across all users. */
  webhookDropped(): number {
    const [row] = this.ctx.storage.sql
      .exec<{ n: number | null }>(
        "SELECT sum(count) AS n FROM dead_letters WHERE target = 'webhook_dropped'",
      )
      .toArray();
    return row?.n ?? 0;
  }

  /**
   * `since` null: the user's mirror caught up. When the last lagging user of a mirror caught
   * up, the outage is over: every online user's state is written to that mirror again, because
   * a store that came back may have lost data of users who did not change during the outage
   * (a Redis restarted empty); their periodic refresh would otherwise take minutes.
   */
  report(target: string, userId: string, since: number | null): void {
    if (since === null) {
      this.ctx.storage.sql.exec("DELETE FROM lag WHERE target = ? AND user_id = ?", target, userId);
      const [left] = this.ctx.storage.sql
        .exec<{ n: number }>("SELECT count(*) AS n FROM lag WHERE target = ?", target)
        .toArray();
      if ((left?.n ?? 0) === 0 && (target === "redis" || target === "postgres")) {
        this.ctx.waitUntil(this.rewriteEverywhere(target));
      }
    } else {
      this.ctx.storage.sql.exec(
        "INSERT INTO lag (target, user_id, since) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        target,
        userId,
        since,
      );
    }
  }

  private async rewriteEverywhere(target: "redis" | "postgres"): Promise<void> {
    const shards = loadConfig(this.env).presenceShards;
    console.log(`MirrorMonitor: ${target} caught up; rewriting every online user's state to it`);
    await Promise.all(
      Array.from({ length: shards }, (_, index) =>
        this.env.PRESENCE_SHARD.getByName(shardName(index))
          .rewrite(target)
          .catch((err: unknown) =>
            console.warn(`MirrorMonitor: rewrite via shard ${index} failed: ${String(err)}`),
          ),
      ),
    );
  }

  lag(): Record<string, MirrorLag> {
    const result: Record<string, MirrorLag> = {};
    const rows = this.ctx.storage.sql.exec<{ target: string; users: number; oldest: number }>(
      "SELECT target, count(*) AS users, min(since) AS oldest FROM lag GROUP BY target",
    );
    for (const row of rows) result[row.target] = { users: row.users, oldestSince: row.oldest };
    return result;
  }
}
