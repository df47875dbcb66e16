// The work Cloudflare would bill per message, as the gateway's bench build counts it
// (BENCH_METER=true: src/workers/bench-meter.ts, read at GET /__bench/meter): Durable Object calls
// and storage rows written. Servers without the meter (the references) have none.

/** What the gateway counted over a scenario's sends, per message sent. */
export interface BilledWork {
  readonly messages: number;
  readonly actorCallsPerMessage: number;
  readonly rowsWrittenPerMessage: number;
  /** The busiest single actor's calls per message (bounded by FANOUT_MAX_CALLS_PER_MESSAGE). */
  readonly busiestActorCallsPerMessage: number;
  readonly callsByBinding: Readonly<Record<string, number>>;
}

interface Reading {
  actor_calls: number;
  rows_written: number;
  calls_by_binding: Record<string, number>;
  busiest_caller: { caller: string; calls: number };
}

export interface BilledMeter {
  /** Start counting from zero. */
  reset(): Promise<void>;
  /** The work since `reset`, divided by the `messages` sent. */
  perMessage(messages: number): Promise<BilledWork | null>;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

async function read(url: string): Promise<Reading | null> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    if (!response.ok) {
      await response.body?.cancel();
      return null;
    }
    const body = (await response.json()) as Partial<Reading>;
    return typeof body.actor_calls === "number" ? (body as Reading) : null;
  } catch {
    return null;
  }
}

/** The server's meter, or null when it has none. */
export async function billedMeter(httpBase: string): Promise<BilledMeter | null> {
  const url = `${httpBase}/__bench/meter`;
  if ((await read(url)) === null) return null;
  return {
    reset: async () => {
      await read(url);
    },
    perMessage: async (messages) => {
      const reading = await read(url);
      if (reading === null || messages === 0) return null;
      return {
        messages,
        actorCallsPerMessage: round2(reading.actor_calls / messages),
        rowsWrittenPerMessage: round2(reading.rows_written / messages),
        busiestActorCallsPerMessage: round2(reading.busiest_caller.calls / messages),
        callsByBinding: Object.fromEntries(
          Object.entries(reading.calls_by_binding).map(([k, v]) => [k, round2(v / messages)]),
        ),
      };
    },
  };
}
