/**
 * PresenceShard: the online users of one shard (user → shard by a stable hash). UserHubs keep
 * it current through their outbox; it answers "who is online" and fans broadcasts out to its
 * online users only, so a broadcast costs the number of online users, not of all users seen.
 */
import { DurableObject } from "cloudflare:workers";
import { mapBounded } from "../core/bounded.ts";
import type { Delivery } from "../core/delivery.ts";
import { COUNT_SAVE_DELAY_MS, OnlineList, type OnlineUser } from "../core/online-list.ts";

/** How many UserHub deliveries one shard keeps in flight during a broadcast. */
const FANOUT_CONCURRENCY = 128;

export type { OnlineUser };

export class PresenceShard extends DurableObject<Env> {
  private readonly list: OnlineList;
  private countSave: ReturnType<typeof setTimeout> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.list = new OnlineList(ctx.storage.sql);
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
