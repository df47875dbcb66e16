// Run sizes. Every run is bounded in sockets, messages and time.

export type Mode = "tiny" | "quick" | "full";

export interface BenchParameters {
  readonly mode: Mode;
  /** Sockets being opened at once. */
  readonly connectConcurrency: number;
  /** Milliseconds a socket may take to get its first frame. */
  readonly connectTimeoutMs: number;
  readonly warmup: { readonly users: number; readonly messages: number };
  /** connect + idle + broadcast share one crowd of `sockets` sockets for `users` users. */
  readonly crowd: {
    readonly sockets: number;
    readonly users: number;
    /** Milliseconds the crowd is held idle while CPU is measured. */
    readonly idleMs: number;
    readonly broadcasts: number;
  };
  readonly dm: {
    /** Messages per second of the step whose latency is reported. */
    readonly baseRate: number;
    /** Milliseconds at the base rate before it, not measured (wakes the message path). */
    readonly primeMs: number;
    readonly baseDurationMs: number;
    /** Higher rates tried after the base step, until one is not kept up. */
    readonly ladder: readonly number[];
    readonly stepDurationMs: number;
    /** Highest rate one socket sends at, messages/s (the gateway's limit is 20/s). */
    readonly maxPerSocketRate: number;
    /** Milliseconds to wait after a step for messages still in flight. */
    readonly drainMs: number;
  };
  readonly fanout: { readonly members: number; readonly sends: number };
  /** The presence storm: `members` sockets of as many users close at once. */
  readonly storm: {
    readonly members: number;
    /** Milliseconds /health is probed after the closes, at least. */
    readonly watchMs: number;
    /** Milliseconds the gateway's flips may take to reach the room, at most. */
    readonly settleTimeoutMs: number;
  };
  /** Staff broadcasts to this many users, one socket each. */
  readonly broadcastUsers: { readonly users: number; readonly sends: number };
  /** Wall-clock budget of the whole run, milliseconds; past it the run stops. */
  readonly budgetMs: number;
}

export const PARAMETERS: Record<Mode, BenchParameters> = {
  tiny: {
    mode: "tiny",
    connectConcurrency: 20,
    connectTimeoutMs: 10_000,
    warmup: { users: 4, messages: 8 },
    crowd: { sockets: 40, users: 10, idleMs: 1_000, broadcasts: 3 },
    dm: {
      baseRate: 100,
      primeMs: 500,
      baseDurationMs: 2_000,
      ladder: [],
      stepDurationMs: 0,
      maxPerSocketRate: 10,
      drainMs: 5_000,
    },
    fanout: { members: 20, sends: 3 },
    storm: { members: 20, watchMs: 8_000, settleTimeoutMs: 20_000 },
    broadcastUsers: { users: 20, sends: 3 },
    budgetMs: 4 * 60_000,
  },
  quick: {
    mode: "quick",
    connectConcurrency: 100,
    connectTimeoutMs: 20_000,
    warmup: { users: 20, messages: 200 },
    // 12 s idle: long enough for workerd to hibernate idle Durable Objects (10 s).
    crowd: { sockets: 500, users: 50, idleMs: 12_000, broadcasts: 5 },
    dm: {
      baseRate: 500,
      primeMs: 1_500,
      baseDurationMs: 6_000,
      ladder: [1_000, 1_500, 2_000, 3_000, 4_000, 6_000, 8_000],
      stepDurationMs: 3_000,
      maxPerSocketRate: 10,
      drainMs: 10_000,
    },
    fanout: { members: 200, sends: 10 },
    storm: { members: 500, watchMs: 15_000, settleTimeoutMs: 60_000 },
    broadcastUsers: { users: 200, sends: 5 },
    budgetMs: 15 * 60_000,
  },
  full: {
    mode: "full",
    connectConcurrency: 100,
    connectTimeoutMs: 30_000,
    warmup: { users: 50, messages: 1_000 },
    crowd: { sockets: 2_000, users: 250, idleMs: 20_000, broadcasts: 10 },
    dm: {
      baseRate: 500,
      primeMs: 3_000,
      baseDurationMs: 20_000,
      ladder: [1_000, 1_500, 2_000, 3_000, 4_000, 6_000, 8_000, 12_000],
      stepDurationMs: 8_000,
      maxPerSocketRate: 10,
      drainMs: 15_000,
    },
    fanout: { members: 2_000, sends: 20 },
    storm: { members: 2_000, watchMs: 30_000, settleTimeoutMs: 180_000 },
    broadcastUsers: { users: 2_000, sends: 10 },
    budgetMs: 45 * 60_000,
  },
};
