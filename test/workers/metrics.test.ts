/**
 * Metrics inside workerd against the real actors: counts made in a UserHub reach a
 * PresenceShard through the hub's alarm (no call per frame), and `/metrics` sums the shards.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { eventually } from "../helpers/frames.ts";
import { readScrape } from "../helpers/prometheus.ts";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { connectAs, uniqueUser } from "./helpers.ts";

async function scrape() {
  const response = await exports.default.fetch(
    new Request("http://gateway.test/metrics", {
      headers: { Authorization: `Bearer ${TEST_API_KEY}` },
    }),
  );
  expect(response.status).toBe(200);
  return readScrape(await response.text());
}

const statusRequests = (s: Awaited<ReturnType<typeof scrape>>) =>
  s.value("realtime_messages_received_total", { type: "get_status" }) ?? 0;

describe("metrics", () => {
  it("counts frames in the hub and sums them from the shards", async () => {
    const before = statusRequests(await scrape());
    const socket = await connectAs(uniqueUser("metrics"));
    for (let i = 0; i < 3; i++) {
      socket.send({ type: "get_status", id: `s${i}` });
      await socket.frames.next((f) => f.id === `s${i}`);
    }
    // The hub's alarm hands the counts over within the flush interval (5 s).
    await eventually(async () => statusRequests(await scrape()) - before >= 3, 15_000, 250);
    const after = await scrape();
    expect(after.value("realtime_connections")).toBeGreaterThanOrEqual(1);
    expect(after.value("realtime_users_online")).toBeGreaterThanOrEqual(1);
  });
});
