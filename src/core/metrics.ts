/**
 * The gateway's counters (docs/operations.md): what the actors holding sockets count, how they
 * batch it, and how the totals add up.
 *
 * Counting happens where the sockets are (UserHubs, RoomHubs), in memory; a `Meter` hands its
 * deltas over at most once per flush interval (from the actor's alarm), to a PresenceShard that
 * adds them to its stored totals. A scrape sums the shards' totals. Nothing on the message path
 * calls another actor for a metric.
 *
 * Deltas and totals are flat records from a series key to a number. A key is the counter's
 * name, then `:` and its one label value when it has one (`sent:user_message`); label values
 * come from closed sets (frame types, error codes), never from client input, so the number of
 * series is bounded.
 */
import { COMMAND_TYPES } from "../protocol/messages.ts";

/** How often a Meter hands its deltas over, at most, in milliseconds: 5,000. */
export const METRICS_FLUSH_MS = 5_000;

/** Upper bounds (seconds) of the delivery-duration histogram's buckets; `+Inf` is implied. */
export const DELIVERY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
] as const;

export type SeriesTotals = Record<string, number>;

/** The counters, each with its one label (or none). */
export const COUNTERS = {
  sent: "type",
  received: "type",
  errors: "code",
  resume: "complete",
  rate_limited: null,
  connection_limit_reached: null,
} as const;
export type CounterName = keyof typeof COUNTERS;

const KNOWN_COMMANDS = new Set<string>(COMMAND_TYPES);

/** `{"type":"user_message"…` → `user_message`; frames are always encoded type first (codec.ts). */
const FRAME_TYPE = /^\{"type":"([a-z_]{1,40})"/;
const ERROR_CODE = /^\{"type":"error","data":\{"code":"([a-z_]{1,40})"/;
const RESUME_COMPLETE = /"complete":(true|false)/;

export function seriesKey(counter: CounterName, label?: string): string {
  return label === undefined ? counter : `${counter}:${label}`;
}

export class Meter {
  private deltas = new Map<string, number>();
  private lastFlushAt = 0;
  private readonly flushMs: number;

  constructor(flushMs = METRICS_FLUSH_MS) {
    this.flushMs = flushMs;
  }

  count(counter: CounterName, label?: string, by = 1): void {
    this.add(seriesKey(counter, label), by);
  }

  /** A frame written to a socket: by type; error frames also by code, and what they mean. */
  frameSent(frame: string): void {
    const type = FRAME_TYPE.exec(frame)?.[1];
    if (type === undefined) return;
    this.count("sent", type);
    if (type === "error") {
      const code = ERROR_CODE.exec(frame)?.[1] ?? "unknown";
      this.count("errors", code);
      if (code === "rate_limited") this.count("rate_limited");
      if (code === "too_many_connections") this.count("connection_limit_reached");
    } else if (type === "resumed") {
      this.count("resume", RESUME_COMPLETE.exec(frame)?.[1] ?? "false");
    }
  }

  /** A frame read from a socket: by command type, or `invalid` when it did not decode. */
  frameReceived(type: string | null): void {
    this.count("received", type !== null && KNOWN_COMMANDS.has(type) ? type : "invalid");
  }

  /** How long a message took from its sender's hand-over to its target's sockets, in seconds. */
  observeDelivery(seconds: number): void {
    const value = Math.max(0, seconds);
    const bound = DELIVERY_BUCKETS.find((upper) => value <= upper);
    // Per bucket, not cumulative: the exposition adds them up (exposition.ts).
    this.add(`delivery_bucket:${bound ?? "+Inf"}`, 1);
    this.add("delivery_sum", value);
    this.add("delivery_count", 1);
  }

  /** When the pending deltas are due to be handed over (ms since epoch), or null when none. */
  flushDueAt(): number | null {
    return this.deltas.size === 0 ? null : this.lastFlushAt + this.flushMs;
  }

  /** The pending deltas, now handed over (null when none or not due yet). */
  drain(now: number): SeriesTotals | null {
    const due = this.flushDueAt();
    if (due === null || due > now) return null;
    const drained = Object.fromEntries(this.deltas);
    this.deltas = new Map();
    this.lastFlushAt = now;
    return drained;
  }

  /** Deltas whose hand-over failed: kept for the next one. */
  restore(deltas: SeriesTotals): void {
    for (const [key, value] of Object.entries(deltas)) this.add(key, value);
  }

  private add(key: string, by: number): void {
    this.deltas.set(key, (this.deltas.get(key) ?? 0) + by);
  }
}

/** Sum records of totals (shards' totals into the gateway's). */
export function addTotals(into: SeriesTotals, from: SeriesTotals): SeriesTotals {
  for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value;
  return into;
}
