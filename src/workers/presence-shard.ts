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
