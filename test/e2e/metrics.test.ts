/**
 * `GET /metrics` under the real gateway, read with a Prometheus text parser: who may scrape,
 * and that the figures move when users connect, send, resume, are rate limited or hit the
 * connection cap. Other files may run against the same gateway, so counters are compared as
 * "at least this much more than before".
 */
import { describe, expect, it } from "vitest";
import { EXPOSITION_CONTENT_TYPE } from "../../src/core/exposition.ts";
import { GATEWAY_VERSION } from "../../src/core/version.ts";
import { eventually } from "../helpers/frames.ts";
import { readScrape, type Scrape } from "../helpers/prometheus.ts";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { mintToken } from "../helpers/tokens.ts";
import { type Client, connectAs, gatewayUrl, UpgradeRefused, uniqueUser } from "./helpers.ts";

async function scrapeAs(auth: string | null) {
  const headers: Record<string, string> = auth === null ? {} : { Authorization: `Bearer ${auth}` };
  return fetch(`${gatewayUrl()}/metrics`, { headers });
}

async function scrape(): Promise<Scrape> {
  const response = await scrapeAs(TEST_API_KEY);
  expect(response.status).toBe(200);
  return readScrape(await response.text());
}

/** Counters reach the shards within the flush interval (5 s) plus an alarm's delay. */
async function until(check: (now: Scrape) => boolean): Promise<Scrape> {
  let last: Scrape | undefined;
  await eventually(
    async () => {
      last = await scrape();
      return check(last);
    },
    20_000,
    500,
  );
  if (last === undefined) throw new Error("never scraped");
  return last;
}

const grew = (after: number | undefined, before: number | undefined, by: number) =>
  (after ?? 0) - (before ?? 0) >= by;

describe("GET /metrics", () => {
  it("answers only the API key or a staff token", async () => {
    expect((await scrapeAs(null)).status).toBe(401);
    expect((await scrapeAs("not-the-key")).status).toBe(401);
    const plain = await scrapeAs(await mintToken(uniqueUser("plain")));
    expect(plain.status).toBe(403);
    expect(await plain.json()).toMatchObject({ error: { code: "forbidden" } });
    const staff = await scrapeAs(await mintToken(uniqueUser("staff"), { staff: true }));
    expect(staff.status).toBe(200);
    expect(staff.headers.get("content-type")).toBe(EXPOSITION_CONTENT_TYPE);
    const text = await staff.text();
    const parsed = readScrape(text);
    expect(parsed.value("realtime_build_info", { version: GATEWAY_VERSION, protocol: "1.1" })).toBe(
      1,
    );
    const names = parsed.families.map((f) => `${f.name} ${f.type}`);
    expect(names).toEqual(
      expect.arrayContaining([
        "realtime_connections GAUGE",
        "realtime_users_online GAUGE",
        "realtime_messages_sent_total COUNTER",
        "realtime_messages_received_total COUNTER",
        "realtime_errors_total COUNTER",
        "realtime_delivery_duration_seconds HISTOGRAM",
        "realtime_mirror_lag_seconds GAUGE",
        "realtime_outbox_depth GAUGE",
        "realtime_resume_total COUNTER",
        "realtime_rate_limited_total COUNTER",
        "realtime_connection_limit_reached_total COUNTER",
        "realtime_build_info GAUGE",
      ]),
    );
    // The e2e stack runs both mirrors.
    for (const mirror of ["redis", "postgres"]) {
      expect(parsed.value("realtime_mirror_lag_seconds", { mirror })).toBeGreaterThanOrEqual(0);
      expect(parsed.value("realtime_outbox_depth", { mirror })).toBeGreaterThanOrEqual(0);
    }
  });

  it("counts connections, messages, deliveries, resumes, rate limits and the connection cap", async () => {
    const before = await scrape();
    const sender = uniqueUser("m-from");
    const target = uniqueUser("m-to");
    const from = await connectAs(sender);
    const to = await connectAs(target);

    // Absolute, not against `before`: users of the previous test file may still be going
    // offline (grace period) while these two come online, so the totals need not grow by 2.
    const online = await until(
      (now) =>
        (now.value("realtime_users_online") ?? 0) >= 2 &&
        (now.value("realtime_connections") ?? 0) >= 2,
    );
    expect(online.value("realtime_connections")).toBeGreaterThanOrEqual(2);

    for (let i = 0; i < 3; i++) {
      const reply = await from.request("send_message", {
        target_user_id: target,
        message: `m${i}`,
      });
      expect(reply.type).toBe("message_sent");
    }
    from.send("{not json");
    await from.frames.next((f) => f.type === "error" && f.data?.code === "invalid_json");
    const resumed = await to.request("resume", { since_seq: 0 });
    expect(resumed.data).toMatchObject({ complete: true });

    // 60 frames at once from one socket: past the burst of 40 some are refused.
    for (let i = 0; i < 60; i++) from.send({ type: "ping", id: `flood-${i}` });
    await from.frames.next((f) => f.type === "error" && f.data?.code === "rate_limited");

    // MAX_CONNECTIONS_PER_USER is 20 in the e2e stack: the 21st socket is refused with 4009.
    const crowd = uniqueUser("m-cap");
    const held: Client[] = [];
    for (let i = 0; i < 20; i++) held.push(await connectAs(crowd));
    // Accepted, told `too_many_connections`, closed with 4009: no connection_established.
    const refused = await connectAs(crowd).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(Error);
    expect(refused).not.toBeInstanceOf(UpgradeRefused);

    // Each counter that must have moved, and by at least how much.
    const moved: [string, Record<string, string> | undefined, number][] = [
      ["realtime_messages_received_total", { type: "send_message" }, 3],
      ["realtime_messages_sent_total", { type: "user_message" }, 3],
      ["realtime_messages_received_total", { type: "invalid" }, 1],
      ["realtime_errors_total", { code: "invalid_json" }, 1],
      ["realtime_resume_total", { complete: "true" }, 1],
      ["realtime_rate_limited_total", undefined, 1],
      ["realtime_connection_limit_reached_total", undefined, 1],
    ];
    const delivered = (s: Scrape) => s.histogram("realtime_delivery_duration_seconds").count;
    const after = await until(
      (now) =>
        moved.every(([name, labels, by]) =>
          grew(now.value(name, labels), before.value(name, labels), by),
        ) && grew(delivered(now), delivered(before), 3),
    );
    const histogram = after.histogram("realtime_delivery_duration_seconds");
    expect(histogram.buckets["+Inf"]).toBe(histogram.count);
    expect(histogram.sum).toBeGreaterThanOrEqual(0);
    // Cumulative: never smaller at a larger bound (object keys are not in bound order).
    const bounds = Object.keys(histogram.buckets).sort((a, b) => Number(a) - Number(b));
    const counts = bounds.map((bound) => histogram.buckets[bound] ?? 0);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));

    await Promise.all([from.close(), to.close(), ...held.map((socket) => socket.close())]);
  });
});
