// A set of bench sockets opened for one scenario. Each socket has a stable index, which is
// what the ledger's recipient sets hold. The fleet itself counts what no scenario expects:
// server error frames and sockets the server closed.
import type { BenchSocket, Delivery, ServerAdapter } from "./adapter.ts";
import { emptyIntegrity, type Integrity, note } from "./ledger.ts";
import type { BenchUser, TokenMint } from "./tokens.ts";

export type DeliveryHandler = (index: number, delivery: Delivery) => void;

/** Runs `fn` over `items` with at most `concurrency` calls in flight. */
export async function inPool<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, i: number) => Promise<void>,
) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

export interface OpenResult {
  /** Time to first reply of each socket opened, milliseconds. */
  readonly firstReplyMs: number[];
  /** Wall time to open all of them, milliseconds. */
  readonly elapsedMs: number;
  readonly failed: number;
}

export class Fleet {
  /** By index; a slot stays empty when its socket failed to open. */
  readonly sockets: Array<BenchSocket | undefined> = [];
  /** Where server errors, failed opens and dropped sockets are counted. Swap per phase. */
  integrity: Integrity = emptyIntegrity();
  /** Receives dm, group, broadcast and ack deliveries. By default any of them is misrouted. */
  handler: DeliveryHandler = (index, delivery) => {
    if (delivery.kind === "ack") return;
    this.integrity.misrouted++;
    note(this.integrity, `socket #${index} got an unexpected ${delivery.kind}`);
  };
  readonly #adapter: ServerAdapter;
  readonly #mint: TokenMint;

  constructor(adapter: ServerAdapter, mint: TokenMint) {
    this.#adapter = adapter;
    this.#mint = mint;
  }

  /** Indexes of the sockets that are open. */
  get openIndexes(): number[] {
    const indexes: number[] = [];
    this.sockets.forEach((socket, index) => {
      if (socket) indexes.push(index);
    });
    return indexes;
  }

  /** Opens one socket per entry of `users` (a user may appear several times), by `connect`. */
  async open(
    users: readonly BenchUser[],
    concurrency: number,
    timeoutMs: number,
    connect: ServerAdapter["connect"] = (request) => this.#adapter.connect(request),
  ): Promise<OpenResult> {
    const base = this.sockets.length;
    this.sockets.length = base + users.length;
    const tokens = await Promise.all(users.map((user) => this.#mint.tokenFor(user)));
    const firstReplyMs: number[] = [];
    let failed = 0;
    const started = performance.now();
    await inPool(users, concurrency, async (user, i) => {
      const index = base + i;
      try {
        const socket = await connect({
          user,
          token: tokens[i] as string,
          timeoutMs,
          onDelivery: (delivery) => this.#dispatch(index, delivery),
        });
        this.sockets[index] = socket;
        firstReplyMs.push(socket.firstReplyMs);
      } catch (error) {
        failed++;
        this.integrity.errors++;
        note(this.integrity, `connect ${user.userId}: ${(error as Error).message}`);
      }
    });
    return { firstReplyMs, elapsedMs: performance.now() - started, failed };
  }

  async closeAll(): Promise<void> {
    const open = this.sockets.filter((socket): socket is BenchSocket => socket !== undefined);
    this.sockets.length = 0;
    await inPool(open, 200, (socket) => socket.close());
  }

  #dispatch(index: number, delivery: Delivery): void {
    if (delivery.kind === "closed") {
      this.integrity.dropped++;
      note(
        this.integrity,
        `socket #${index} closed by the server: ${delivery.code} ${delivery.reason}`,
      );
    } else if (delivery.kind === "error") {
      this.integrity.errors++;
      note(this.integrity, `socket #${index} got error ${delivery.code}: ${delivery.message}`);
    } else {
      this.handler(index, delivery);
    }
  }
}
