/**
 * `GET /metrics` as Prometheus text exposition format 0.0.4: one `# HELP` and one `# TYPE` line
 * per family, then its samples; label values escaped (`\\`, `"`, newline); histogram buckets
 * cumulative with a closing `+Inf`, then `_sum` and `_count`. Names follow Centrifugo's style
 * under the `realtime_` prefix (docs/operations.md lists them with how stale each can be).
 */
import { COUNTERS, type CounterName, DELIVERY_BUCKETS, type SeriesTotals } from "./metrics.ts";

/** The exposition format's media type. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface MirrorFigures {
  /** Users whose latest presence change this mirror does not have yet. */
  pending: number;
  /** Age of the oldest of those changes, in seconds (0 when none). */
  lagSeconds: number;
}

export interface MetricsSnapshot {
  /** Counter totals summed over the presence shards. */
  totals: SeriesTotals;
  connections: number;
  usersOnline: number;
  /** Per configured mirror (redis, postgres, webhook). */
  mirrors: Record<string, MirrorFigures>;
  build: Record<string, string>;
}

const COUNTER_FAMILIES: Record<CounterName, { name: string; help: string; zeros?: string[] }> = {
  sent: {
    name: "realtime_messages_sent_total",
    help: "Frames the gateway wrote to sockets, by frame type.",
  },
  received: {
    name: "realtime_messages_received_total",
    help: "Frames the gateway read from sockets, by command type (invalid: did not decode).",
  },
  errors: {
    name: "realtime_errors_total",
    help: "Error frames the gateway sent on sockets, by error code.",
  },
  resume: {
    name: "realtime_resume_total",
    help: "Resumes answered, by whether the replay was complete.",
    zeros: ["true", "false"],
  },
  rate_limited: {
    name: "realtime_rate_limited_total",
    help: "Frames refused with rate_limited (per-connection rate, user budget, new targets).",
  },
  connection_limit_reached: {
    name: "realtime_connection_limit_reached_total",
    help: "Sockets refused because their user had MAX_CONNECTIONS_PER_USER already.",
  },
};

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labels(pairs: Record<string, string>): string {
  const entries = Object.entries(pairs);
  if (entries.length === 0) return "";
  return `{${entries.map(([key, value]) => `${key}="${escapeLabel(value)}"`).join(",")}}`;
}

function number(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: "counter" | "gauge" | "histogram", help: string): this {
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    this.lines.push(`# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, value: number, pairs: Record<string, string> = {}): this {
    this.lines.push(`${name}${labels(pairs)} ${number(value)}`);
    return this;
  }

  text(): string {
    return `${this.lines.join("\n")}\n`;
  }
}

/** Label values of one counter, with their totals, in a stable order. */
function valuesOf(totals: SeriesTotals, counter: CounterName, zeros: string[] = []) {
  const found = new Map<string, number>(zeros.map((value) => [value, 0]));
  const prefix = `${counter}:`;
  for (const [key, value] of Object.entries(totals)) {
    if (key.startsWith(prefix)) found.set(key.slice(prefix.length), value);
  }
  return [...found].sort(([a], [b]) => a.localeCompare(b));
}

export function renderMetrics(snapshot: MetricsSnapshot): string {
  const out = new Exposition();
  const { totals } = snapshot;
  out
    .family("realtime_connections", "gauge", "Open sockets (user, room and consultation sockets).")
    .sample("realtime_connections", snapshot.connections);
  out
    .family("realtime_users_online", "gauge", "Users online (at least one socket, or in grace).")
    .sample("realtime_users_online", snapshot.usersOnline);

  for (const counter of Object.keys(COUNTERS) as CounterName[]) {
    const family = COUNTER_FAMILIES[counter];
    const label = COUNTERS[counter];
    out.family(family.name, "counter", family.help);
    if (label === null) out.sample(family.name, totals[counter] ?? 0);
    else {
      for (const [value, total] of valuesOf(totals, counter, family.zeros)) {
        out.sample(family.name, total, { [label]: value });
      }
    }
  }

  const histogram = "realtime_delivery_duration_seconds";
  out.family(
    histogram,
    "histogram",
    "Direct messages and notifications: from the sender's hand-over to the target's sockets.",
  );
  let cumulative = 0;
  for (const bound of [...DELIVERY_BUCKETS, "+Inf"]) {
    cumulative += totals[`delivery_bucket:${bound}`] ?? 0;
    out.sample(`${histogram}_bucket`, cumulative, { le: String(bound) });
  }
  out.sample(`${histogram}_sum`, totals.delivery_sum ?? 0);
  out.sample(`${histogram}_count`, totals.delivery_count ?? 0);

  const mirrors = Object.entries(snapshot.mirrors).sort(([a], [b]) => a.localeCompare(b));
  const MIRROR_GAUGES: [string, string, (figures: MirrorFigures) => number][] = [
    [
      "realtime_mirror_lag_seconds",
      "Age of the oldest presence change a mirror does not have yet (0 when caught up).",
      (figures) => figures.lagSeconds,
    ],
    [
      "realtime_outbox_depth",
      "Users whose latest presence change waits in their outbox for a mirror that is failing.",
      (figures) => figures.pending,
    ],
  ];
  for (const [name, help, figure] of MIRROR_GAUGES) {
    out.family(name, "gauge", help);
    for (const [mirror, figures] of mirrors) out.sample(name, figure(figures), { mirror });
  }
  out
    .family("realtime_build_info", "gauge", "The gateway's version; always 1.")
    .sample("realtime_build_info", 1, snapshot.build);
  return out.text();
}
