/**
 * Bounded fan-out: no actor makes more than `maxCalls` calls for one message. An actor with
 * more recipients than that splits them into at most `maxCalls` chunks and hands each chunk to
 * a fan-out shard, which delivers it or splits it again. The tree is as shallow as the bound
 * allows: `depth` levels of shards for `maxCalls^(depth+1)` recipients.
 */
import { mapBounded } from "./bounded.ts";

/** How a fan-out to one user ended. */
export type UserOutcome = "reached" | "dropped" | "failed";

/** What a fan-out (or a sub-tree of it) did: users reached, and who was not. */
export interface FanoutResult {
  reached: number;
  /** Users without a socket that wanted the message (a stale membership). */
  dropped: string[];
  /** Users whose delivery failed (after the shard retries). */
  failed: string[];
}

export interface FanoutSend<T> {
  /** Deliver to one recipient directly. */
  toUser(recipient: T): Promise<UserOutcome>;
  /** Hand a chunk to fan-out shard number `index` of this actor. */
  toShard(index: number, chunk: T[]): Promise<FanoutResult>;
  log?(message: string): void;
}

/** Levels of fan-out shards below an actor with `count` recipients: 0 when it calls them all. */
export function shardLevels(count: number, maxCalls: number): number {
  assertMaxCalls(maxCalls);
  let levels = 0;
  for (let reach = maxCalls; reach < count; reach *= maxCalls) levels++;
  return levels;
}

/** How many chunks, of which sizes, an actor with `count` recipients hands to shards ([] when none). */
export function chunkSizes(count: number, maxCalls: number): number[] {
  const levels = shardLevels(count, maxCalls);
  if (levels === 0) return [];
  // Each chunk fits under `levels - 1` further levels of shards, so the depth is minimal.
  const chunkLimit = maxCalls ** levels;
  const chunks = Math.ceil(count / chunkLimit);
  const size = Math.ceil(count / chunks);
  return Array.from({ length: chunks }, (_, i) => Math.min(size, count - i * size)).filter(
    (n) => n > 0,
  );
}

/** Split recipients as `chunkSizes` says; a single chunk of everything when no split is needed. */
export function splitRecipients<T>(recipients: readonly T[], maxCalls: number): T[][] {
  const sizes = chunkSizes(recipients.length, maxCalls);
  if (sizes.length === 0) return [[...recipients]];
  const chunks: T[][] = [];
  let start = 0;
  for (const size of sizes) {
    chunks.push(recipients.slice(start, start + size));
    start += size;
  }
  return chunks;
}

/**
 * Deliver to every recipient, directly (at most `concurrency` at once) when they fit under
 * `maxCalls`, else through shards. A shard call that fails is retried (`attempts`): deliveries
 * are idempotent by message id, so users it had reached are not sent the message twice.
 */
export async function fanOut<T extends string>(
  recipients: readonly T[],
  options: { maxCalls: number; concurrency: number; attempts?: number },
  send: FanoutSend<T>,
): Promise<FanoutResult> {
  const result: FanoutResult = { reached: 0, dropped: [], failed: [] };
  if (chunkSizes(recipients.length, options.maxCalls).length === 0) {
    await mapBounded(recipients, options.concurrency, async (recipient) => {
      const outcome = await send.toUser(recipient).catch((err: unknown) => {
        send.log?.(`delivery to ${recipient} failed: ${String(err)}`);
        return "failed" as const;
      });
      if (outcome === "reached") result.reached++;
      else result[outcome].push(recipient);
    });
    return result;
  }
  const attempts = options.attempts ?? 3;
  const chunks = splitRecipients(recipients, options.maxCalls);
  await Promise.all(
    chunks.map(async (chunk, index) => {
      for (let attempt = 1; ; attempt++) {
        try {
          mergeInto(result, await send.toShard(index, chunk));
          return;
        } catch (err) {
          send.log?.(`shard ${index} failed (attempt ${attempt}): ${String(err)}`);
          if (attempt >= attempts) {
            result.failed.push(...chunk);
            return;
          }
        }
      }
    }),
  );
  return result;
}

function mergeInto(total: FanoutResult, part: FanoutResult): void {
  total.reached += part.reached;
  total.dropped.push(...part.dropped);
  total.failed.push(...part.failed);
}

/** The shape of the tree for `count` recipients: the capacity model of docs/scale.md. */
export interface TreeShape {
  recipients: number;
  /** Levels of shards between the origin actor and the users (0: the origin calls them all). */
  shardLevels: number;
  /** Fan-out shard actors the message passes through. */
  shards: number;
  /** Calls made by every actor together: to shards and to users. */
  calls: number;
  /** The most calls any one actor makes (≤ maxCalls). */
  maxCallsPerActor: number;
}

export function treeShape(count: number, maxCalls: number): TreeShape {
  const memo = new Map<number, TreeShape>();
  const shape = (n: number): TreeShape => {
    const known = memo.get(n);
    if (known) return known;
    const sizes = chunkSizes(n, maxCalls);
    let result: TreeShape;
    if (sizes.length === 0) {
      result = { recipients: n, shardLevels: 0, shards: 0, calls: n, maxCallsPerActor: n };
    } else {
      result = { recipients: n, shardLevels: 0, shards: 0, calls: 0, maxCallsPerActor: 0 };
      for (const size of sizes) {
        const below = shape(size);
        result.shardLevels = Math.max(result.shardLevels, below.shardLevels + 1);
        result.shards += below.shards + 1;
        result.calls += below.calls + 1;
        result.maxCallsPerActor = Math.max(result.maxCallsPerActor, below.maxCallsPerActor);
      }
      result.maxCallsPerActor = Math.max(result.maxCallsPerActor, sizes.length);
    }
    memo.set(n, result);
    return result;
  };
  return shape(count);
}

/** Expected milliseconds until the last recipient has the message (docs/scale.md, "Time"). */
export function timeToLastMs(
  count: number,
  options: { maxCalls: number; callMs: number; callsPerMsPerActor: number },
): number {
  // Every level waits one call latency plus the time its busiest actor takes to issue its calls.
  let total = 0;
  let n = count;
  for (;;) {
    const sizes = chunkSizes(n, options.maxCalls);
    const issued = sizes.length === 0 ? n : sizes.length;
    total += options.callMs + issued / options.callsPerMsPerActor;
    if (sizes.length === 0) return total;
    n = sizes[0] ?? 0;
  }
}

function assertMaxCalls(maxCalls: number): void {
  if (!Number.isInteger(maxCalls) || maxCalls < 2) {
    throw new RangeError(`maxCalls must be an integer ≥ 2, got ${maxCalls}`);
  }
}

/** What `simulateFanout` saw: the result, each actor's calls, each user's deliveries. */
export interface Simulation {
  result: FanoutResult;
  callsByActor: Map<string, number>;
  /** Deliveries each user's actor got (a retried shard delivers again; the actor dedupes). */
  deliveriesToUser: Map<string, number>;
}

/**
 * The fan-out of one message to `count` users with in-memory actors that count their calls
 * (the bench and the tests check the model with it). Shards named in `failOnce` fail once,
 * after reaching the first user of their chunk, as an actor evicted mid-call would.
 */
export async function simulateFanout(
  count: number,
  maxCalls: number,
  failOnce: ReadonlySet<string> = new Set(),
): Promise<Simulation> {
  const callsByActor = new Map<string, number>();
  const deliveriesToUser = new Map<string, number>();
  const pendingFailures = new Set(failOnce);
  const call = (actor: string) => callsByActor.set(actor, (callsByActor.get(actor) ?? 0) + 1);
  const run = (actor: string, users: readonly string[]): Promise<FanoutResult> =>
    fanOut(
      users,
      { maxCalls, concurrency: 64 },
      {
        toUser: async (user) => {
          call(actor);
          deliveriesToUser.set(user, (deliveriesToUser.get(user) ?? 0) + 1);
          return "reached";
        },
        toShard: async (index, chunk) => {
          call(actor);
          const shard = `${actor}/${index}`;
          if (pendingFailures.delete(shard)) {
            await run(shard, chunk.slice(0, 1));
            throw new Error(`${shard} evicted`);
          }
          return run(shard, chunk);
        },
      },
    );
  const users = Array.from({ length: count }, (_, i) => `user-${i}`);
  const result = await run("origin", users);
  return { result, callsByActor, deliveriesToUser };
}
