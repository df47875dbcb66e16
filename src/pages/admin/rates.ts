/**
 * The console's figures from successive `/metrics` scrapes: messages sent and received per
 * second (counters, turned into rates), connections and users online (gauges), and each
 * mirror's lag.
 */

import { parsePrometheus, type Sample, total } from "../prometheus.ts";
import { rate, Series } from "../series.ts";
import type { ChartRow } from "./views.ts";

export class MetricRates {
  private readonly sent = new Series();
  private readonly received = new Series();
  private readonly connections = new Series();
  private readonly online = new Series();
  private previous: { at: number; sent: number; received: number } | null = null;
  /** The last scrape's `realtime_mirror_lag_seconds` per mirror. */
  lag = new Map<string, number>();

  /** Take one scrape made at `at` (ms). */
  add(text: string, at: number): void {
    const samples = parsePrometheus(text);
    const sent = total(samples, "realtime_messages_sent_total") ?? 0;
    const received = total(samples, "realtime_messages_received_total") ?? 0;
    if (this.previous !== null) {
      const seconds = (at - this.previous.at) / 1000;
      this.sent.push(rate(this.previous.sent, sent, seconds));
      this.received.push(rate(this.previous.received, received, seconds));
    }
    this.previous = { at, sent, received };
    this.connections.push(total(samples, "realtime_connections") ?? 0);
    this.online.push(total(samples, "realtime_users_online") ?? 0);
    this.lag = lagByMirror(samples);
  }

  rows(): ChartRow[] {
    return [
      { label: "messages sent", unit: "/s", series: this.sent },
      { label: "messages received", unit: "/s", series: this.received },
      { label: "connections", unit: "", series: this.connections },
      { label: "users online", unit: "", series: this.online },
    ];
  }
}

function lagByMirror(samples: readonly Sample[]): Map<string, number> {
  const lag = new Map<string, number>();
  for (const sample of samples) {
    const mirror = sample.labels.mirror;
    if (sample.name === "realtime_mirror_lag_seconds" && mirror !== undefined) {
      lag.set(mirror, sample.value);
    }
  }
  return lag;
}
