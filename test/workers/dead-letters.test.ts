/**
 * A notification Postgres refuses, inside workerd: the UserHub's notification outbox (in the
 * actor's own SQLite) parks it, writes the one after it, and /health counts it. The writer is
 * the in-memory twin of the Postgres mirror, which refuses U+0000 as Postgres does; the
 * outbox is called directly, past the validation that refuses such text at the door.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CachedStore } from "../../src/core/cached-store.ts";
import type { DeliveryResult } from "../../src/core/delivery.ts";
import { HEALTH_CACHE_MS } from "../../src/http/health.ts";
import { MemoryPostgresMirror } from "../../src/mirrors/memory.ts";
import type { NotificationMessage } from "../../src/protocol/messages.ts";
import { UserNotifications } from "../../src/workers/user-notifications.ts";
import { eventually } from "../helpers/frames.ts";
import { uniqueUser } from "./helpers.ts";

async function health(): Promise<Record<string, unknown>> {
  const response = await exports.default.fetch(new Request("http://gateway.test/health"));
  return (await response.json()) as Record<string, unknown>;
}

const stored: DeliveryResult = { status: "stored", seq: 1, sockets: 0, connectionCount: 0 };

function notification(id: string, title: string): NotificationMessage {
  return {
    notification_id: id,
    title,
    message: "m",
    data: {},
    created_at: new Date().toISOString(),
  };
}

describe("dead letters", () => {
  it("/health has no dead_letters while there are none", async () => {
    expect(await health()).not.toHaveProperty("dead_letters");
  });

  it("a notification Postgres refuses does not hold back the next one and is counted on /health", async () => {
    const user = uniqueUser("dead");
    const postgres = new MemoryPostgresMirror();
    await runInDurableObject(env.USER_HUB.getByName(user), async (_hub, state) => {
      const notifications = new UserNotifications(
        state,
        new CachedStore(state.storage),
        env,
        (rows) => postgres.recordNotifications(rows),
      );
      notifications.record(user, notification("n1", "NUL \u0000 here"), stored);
      notifications.record(user, notification("n2", "fine"), stored);
      await notifications.flush(user);
      expect(notifications.nextWakeAt()).toBeNull();
    });
    expect([...postgres.notifications.keys()]).toEqual(["n2"]);
    // /health is answered from a cache of HEALTH_CACHE_MS (2 s): the count shows within it.
    const body = await eventually(
      async () => {
        const answer = await health();
        return "dead_letters" in answer ? answer : null;
      },
      2 * HEALTH_CACHE_MS + 1_000,
    );
    expect(body).toMatchObject({ status: "ok", dead_letters: 1 });
  });
});
