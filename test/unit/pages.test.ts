/**
 * The served pages' browser code (src/pages): the checked-in bundle is what src/pages builds
 * to, the code never parses strings as HTML, and the console reads Prometheus text right.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { GENERATED, pagesModule } from "../../scripts/build-pages.ts";
import { parsePrometheus, total } from "../../src/pages/prometheus.ts";
import { rate } from "../../src/pages/series.ts";

const root = resolve(import.meta.dirname, "../..");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : [];
  });
}

describe("the pages bundle", () => {
  it("is current: src/http/pages.generated.ts is what npm run build:pages writes", async () => {
    const checkedIn = readFileSync(join(root, GENERATED), "utf8");
    // A mismatch means src/pages (or the SDK) changed without `npm run build:pages`.
    expect(checkedIn === (await pagesModule())).toBe(true);
  }, 30_000);

  it("never turns a string into markup", () => {
    const markup =
      /\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment)\b/;
    const offending = sources(join(root, "src/pages")).filter((file) =>
      markup.test(readFileSync(file, "utf8")),
    );
    expect(offending).toEqual([]);
  });
});

describe("parsePrometheus", () => {
  const text = [
    "# HELP realtime_messages_sent_total Messages sent to sockets.",
    "# TYPE realtime_messages_sent_total counter",
    'realtime_messages_sent_total{type="user_message"} 12',
    'realtime_messages_sent_total{type="notification"} 3 1700000000000',
    'realtime_mirror_lag_seconds{mirror="redis"} 0.25',
    'realtime_build_info{version="0.1.0",note="a \\"quoted\\", value\\\\n"} 1',
    "realtime_connections 4",
    'realtime_delivery_duration_seconds_bucket{le="+Inf"} 9',
    "not a sample line",
    'broken{label="unterminated} 1',
  ].join("\n");
  const samples = parsePrometheus(text);

  it("reads names, labels (escapes included) and values, skipping what is not a sample", () => {
    expect(samples).toContainEqual({
      name: "realtime_build_info",
      labels: { version: "0.1.0", note: 'a "quoted", value\\n' },
      value: 1,
    });
    expect(samples).toContainEqual({
      name: "realtime_delivery_duration_seconds_bucket",
      labels: { le: "+Inf" },
      value: 9,
    });
    expect(samples.map((s) => s.name)).not.toContain("broken");
    expect(samples).toHaveLength(6);
  });

  it("sums a metric over its label sets", () => {
    expect(total(samples, "realtime_messages_sent_total")).toBe(15);
    expect(total(samples, "realtime_connections")).toBe(4);
    expect(total(samples, "realtime_users_online")).toBeNull();
  });

  it("turns counters into rates, a reset counting from zero", () => {
    expect(rate(10, 40, 5)).toBe(6);
    expect(rate(40, 10, 5)).toBe(2);
    expect(rate(1, 2, 0)).toBe(0);
  });
});
