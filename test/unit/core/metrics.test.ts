import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderMetrics } from "../../../src/core/exposition.ts";
import { addTotals, METRICS_FLUSH_MS, Meter } from "../../../src/core/metrics.ts";
import { GATEWAY_VERSION } from "../../../src/core/version.ts";
import { encodeError, encodeFrame } from "../../../src/protocol/codec.ts";
import { GatewayError } from "../../../src/protocol/errors.ts";
import { readScrape } from "../../helpers/prometheus.ts";

const NOW = 1_000_000;

describe("the meter", () => {
  it("counts frames by type, error frames by code, and what the codes mean", () => {
    const meter = new Meter();
    meter.frameSent(encodeFrame("pong", { server_time: "t" }));
    meter.frameSent(encodeError(new GatewayError("rate_limited", "slow down")));
    meter.frameSent(encodeError(new GatewayError("too_many_connections", "full")));
    meter.frameSent(encodeFrame("resumed", { from_seq: 1, to_seq: 2, complete: false }));
    meter.frameReceived("send_message");
    meter.frameReceived("made_up_type");
    meter.frameReceived(null);
    expect(meter.drain(NOW)).toEqual({
      "sent:pong": 1,
      "sent:error": 2,
      "errors:rate_limited": 1,
      rate_limited: 1,
      "errors:too_many_connections": 1,
      connection_limit_reached: 1,
      "sent:resumed": 1,
      "resume:false": 1,
      "received:send_message": 1,
      // A type no command has is not a label value: client input never makes a new series.
      "received:invalid": 2,
    });
  });

  it("hands deltas over at most once per flush interval, and keeps them when that fails", () => {
    const meter = new Meter();
    expect(meter.flushDueAt()).toBeNull();
    meter.count("rate_limited");
    expect(meter.drain(NOW)).toEqual({ rate_limited: 1 });
    meter.count("rate_limited");
    expect(meter.flushDueAt()).toBe(NOW + METRICS_FLUSH_MS);
    expect(meter.drain(NOW + METRICS_FLUSH_MS - 1)).toBeNull();
    const drained = meter.drain(NOW + METRICS_FLUSH_MS);
    expect(drained).toEqual({ rate_limited: 1 });
    meter.restore(drained ?? {});
    meter.count("rate_limited");
    expect(meter.drain(NOW + 2 * METRICS_FLUSH_MS)).toEqual({ rate_limited: 2 });
  });

  it("puts each delivery in one bucket, beyond the last in +Inf", () => {
    const meter = new Meter();
    meter.observeDelivery(0.003);
    meter.observeDelivery(0.003);
    meter.observeDelivery(60);
    meter.observeDelivery(-1);
    expect(meter.drain(NOW)).toEqual({
      "delivery_bucket:0.005": 2,
      "delivery_bucket:+Inf": 1,
      "delivery_bucket:0.001": 1,
      delivery_sum: 60.006,
      delivery_count: 4,
    });
  });
});

describe("the exposition", () => {
  it("renders totals as Prometheus text that a parser reads back", () => {
    const totals = addTotals(
      {
        "sent:user_message": 2,
        "delivery_bucket:0.005": 2,
        delivery_count: 2,
        delivery_sum: 0.006,
      },
      {
        "sent:user_message": 1,
        "errors:forbidden": 4,
        "delivery_bucket:+Inf": 1,
        delivery_count: 1,
        delivery_sum: 9,
      },
    );
    const text = renderMetrics({
      totals,
      connections: 7,
      usersOnline: 3,
      mirrors: { redis: { pending: 2, lagSeconds: 1.5 } },
      build: { version: "1.0.0", protocol: "1.1" },
    });
    const scrape = readScrape(text);
    expect(scrape.value("realtime_connections")).toBe(7);
    expect(scrape.value("realtime_users_online")).toBe(3);
    expect(scrape.value("realtime_messages_sent_total", { type: "user_message" })).toBe(3);
    expect(scrape.value("realtime_errors_total", { code: "forbidden" })).toBe(4);
    expect(scrape.value("realtime_resume_total", { complete: "true" })).toBe(0);
    expect(scrape.value("realtime_rate_limited_total")).toBe(0);
    expect(scrape.value("realtime_mirror_lag_seconds", { mirror: "redis" })).toBe(1.5);
    expect(scrape.value("realtime_outbox_depth", { mirror: "redis" })).toBe(2);
    expect(scrape.histogram("realtime_delivery_duration_seconds")).toMatchObject({
      count: 3,
      sum: 9.006,
      buckets: { "0.001": 0, "0.005": 2, "5": 2, "+Inf": 3 },
    });
    expect(text).toContain('realtime_build_info{version="1.0.0",protocol="1.1"} 1\n');
  });

  it("escapes label values", () => {
    const text = renderMetrics({
      totals: {},
      connections: 0,
      usersOnline: 0,
      mirrors: {},
      build: { version: 'a"b\\c\nd', protocol: "1.1" },
    });
    expect(text).toContain('realtime_build_info{version="a\\"b\\\\c\\nd",protocol="1.1"} 1');
    expect(
      readScrape(text).value("realtime_build_info", { version: 'a"b\\c\nd', protocol: "1.1" }),
    ).toBe(1);
  });
});

it("reports the version package.json has", () => {
  const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
  expect(GATEWAY_VERSION).toBe(pkg.version);
});
