/**
 * PresenceShard: the online users of one shard (user → shard by a stable hash). UserHubs keep
 * it current through their outbox; it answers "who is online" and fans broadcasts out to its
 * online users only, so a broadcast costs the number of online users, not of all users seen;
 * past FANOUT_MAX_CALLS_PER_MESSAGE of them, through FanoutShards.
 */
import { DurableObject } from "cloudflare:workers";
import { mapBounded } from "../core/bounded.ts";
import { type Config, loadConfig } from "../core/config.ts";
import type { Delivery } from "../core/delivery.ts";
import type { SeriesTotals } from "../core/metrics.ts";
import { COUNT_SAVE_DELAY_MS, OnlineList, type OnlineUser } from "../core/online-list.ts";
import { fanOutToUsers } from "./fanout-shard.ts";

/** How many UserHubs one shard asks at once to rewrite their mirrors. */
const FANOUT_CONCURRENCY = 128;

export type { OnlineUser };

export class PresenceShard extends DurableObject<Env> {
  private readonly list: OnlineList;
  private readonly config: Config;
  private countSave: ReturnType<typeof setTimeout> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.list = new OnlineList(ctx.storage.sql);
    this.config = loadConfig(env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS metrics (series TEXT PRIMARY KEY, total REAL NOT NULL)",
    );
  }

  /**
   * A user's latest presence; an older version than the one held is ignored. A flip is stored
   * now; a count change of a listed user a moment later, with the others (OnlineList).
   */
  update(userId: string, isOnline: boolean, connectionCount: number, version: number): void {
    const countChanged = this.list.update(userId, isOnline, connectionCount, version);
    if (countChanged && this.countSave === undefined) {
      this.countSave = setTimeout(() => {
        this.countSave = undefined;
        this.list.saveCounts();
      }, COUNT_SAVE_DELAY_MS);
    }
  }

  online(): OnlineUser[] {
    return this.list.users();
  }

  /** Counter deltas from the actors of one isolate (workers/meter.ts), added to the stored totals. */
  report(deltas: SeriesTotals): void {
    this.ctx.storage.transactionSync(() => {
      for (const [series, delta] of Object.entries(deltas)) {
        if (!Number.isFinite(delta)) continue;
        this.ctx.storage.sql.exec(
          `INSERT INTO metrics (series, total) VALUES (?, ?)
           ON CONFLICT (series) DO UPDATE SET total = total + excluded.total`,
          series,
          delta,
        );
      }
    });
  }

  /** This shard's part of a scrape: its counter totals and its online users and sockets. */
  metrics(): { totals: SeriesTotals; usersOnline: number; connections: number } {
    const rows = this.ctx.storage.sql
      .exec<{ series: string; total: number }>("SELECT series, total FROM metrics")
      .toArray();
    const users = this.online();
    return {
      totals: Object.fromEntries(rows.map((row) => [row.series, row.total])),
      usersOnline: users.length,
      connections: users.reduce((sum, user) => sum + user.connection_count, 0),
    };
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

  /** Deliver to every online user of this shard (through fan-out shards past the bound). */
  async broadcast(delivery: Delivery): Promise<number> {
    const users = this.online().map(({ user_id }) => user_id);
    const path = `fanout:${this.ctx.id.name ?? this.ctx.id.toString()}`;
    const result = await fanOutToUsers(this.env, this.config, path, users, delivery);
    return result.reached;
  }
}
