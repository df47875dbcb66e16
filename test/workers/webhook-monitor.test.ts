/**
 * The MirrorMonitor counts dropped webhook events apart from the notifications Postgres refused:
 * each is its own /health field.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("MirrorMonitor: dropped webhook events", () => {
  it("counts them per user as totals, apart from dead letters", async () => {
    const monitor = env.MIRROR_MONITOR.getByName("webhook-monitor-test");
    await monitor.reportDeadLetters("postgres", "alice", 2);
    await monitor.reportWebhookDropped("alice", 3);
    await monitor.reportWebhookDropped("alice", 4);
    await monitor.reportWebhookDropped("bob", 1);
    expect(await monitor.deadLetters()).toBe(2);
    expect(await monitor.webhookDropped()).toBe(5);
  });
});
