// connect, idle and broadcast share one crowd of C sockets for U users, so the expensive
// part (opening thousands of sockets) happens once:
// 1. connect: one socket per user (wave 1), then the other C - U sockets (wave 2); time to
//    first reply of every socket and connections/s over both waves.
// 2. idle: the server tree's RSS before, after wave 1 and after wave 2 gives memory per user
//    (the first socket, with whatever per-user state the server keeps: a Durable Object) and
//    per extra socket of an already-connected user; CPU ticks over an idle window.
// 3. broadcast: repeated server-side broadcasts; time until the last socket has each.
import type { BilledWork } from "../billed.ts";
import { Fleet } from "../fleet.ts";
import { addIntegrity, emptyIntegrity, type Integrity, isClean, Ledger } from "../ledger.ts";
import type { BenchParameters } from "../params.ts";
import { CLOCK_TICKS_PER_SECOND, treeCpuTicks, treeRssBytes } from "../proc.ts";
import { checkDeadline, type Outcome, type ScenarioContext, sleep } from "../scenario.ts";
import { type Percentiles, percentiles, round, roundPercentiles } from "../stats.ts";
import { type BenchUser, benchUser } from "../tokens.ts";

export interface ConnectMetrics {
  readonly sockets: number;
  readonly users: number;
  readonly concurrency: number;
  readonly elapsedMs: number;
  readonly connectionsPerSecond: number;
  readonly firstReplyMs: Percentiles | null;
}

export interface IdleMetrics {
  readonly sockets: number;
  readonly users: number;
  /** Bytes of the server's process tree before the crowd, after wave 1, after wave 2. */
  readonly rssBaseBytes: number;
  readonly rssUsersBytes: number;
  readonly rssAllBytes: number;
  /** After the idle window (Durable Objects hibernate after ~10 s without events). */
  readonly rssAfterIdleBytes: number;
  readonly perUserBytes: number;
  readonly perExtraSocketBytes: number;
  readonly idleWindowMs: number;
  /** CPU of the whole tree while idle, percent of one core. */
  readonly idleCpuPercent: number;
}

export interface BroadcastMetrics {
  readonly sockets: number;
  readonly sends: number;
  /** Per broadcast: milliseconds from the send until the last socket had it. */
  readonly timeToLastMs: Percentiles | null;
  /** Per delivery, milliseconds. */
  readonly deliveryMs: Percentiles | null;
  /** Actor calls and rows written per broadcast (the gateway's meter), or null. */
  readonly work: BilledWork | null;
}

export interface CrowdOutcomes {
  connect: Outcome<ConnectMetrics>;
  idle: Outcome<IdleMetrics>;
  broadcast: Outcome<BroadcastMetrics>;
}

const SETTLE_MS = 1_000;

function failedAll(reason: string): CrowdOutcomes {
  return {
    connect: { status: "failed", reason },
    idle: { status: "failed", reason },
    broadcast: { status: "failed", reason },
  };
}

export async function crowd(
  context: ScenarioContext,
  parameters: BenchParameters,
): Promise<CrowdOutcomes> {
  const { sockets: total, users: userCount, idleMs, broadcasts } = parameters.crowd;
  const users = Array.from({ length: userCount }, (_, i) => benchUser(`crowd-${context.tag}-${i}`));
  const extra: BenchUser[] = [];
  for (let i = 0; extra.length < total - userCount; i++)
    extra.push(users[i % userCount] as BenchUser);
  const fleet = new Fleet(context.adapter, context.mint);
  const connectIntegrity = emptyIntegrity();
  fleet.integrity = connectIntegrity;
  const outcomes = failedAll("not reached");
  try {
    await sleep(SETTLE_MS);
    const rssBaseBytes = treeRssBytes(context.server.pid);
    context.log(`connect: wave 1, ${users.length} sockets (one per user)`);
    const wave1 = await fleet.open(
      users,
      parameters.connectConcurrency,
      parameters.connectTimeoutMs,
    );
    await sleep(SETTLE_MS);
    const rssUsersBytes = treeRssBytes(context.server.pid);
    checkDeadline(context, "connect wave 2");
    context.log(`connect: wave 2, ${extra.length} more sockets`);
    const wave2 = await fleet.open(
      extra,
      parameters.connectConcurrency,
      parameters.connectTimeoutMs,
    );
    const firstReplies = [...wave1.firstReplyMs, ...wave2.firstReplyMs];
    const elapsedMs = wave1.elapsedMs + wave2.elapsedMs;
    outcomes.connect = isClean(connectIntegrity)
      ? {
          status: "ok",
          integrity: connectIntegrity,
          metrics: {
            sockets: total,
            users: userCount,
            concurrency: parameters.connectConcurrency,
            elapsedMs: round(elapsedMs),
            connectionsPerSecond: round((total / elapsedMs) * 1000, 1),
            firstReplyMs: roundPercentiles(percentiles(firstReplies)),
          },
        }
      : { status: "broken", integrity: connectIntegrity };
    if (!isClean(connectIntegrity)) {
      const reason = "the crowd did not connect cleanly";
      outcomes.idle = { status: "failed", reason };
      outcomes.broadcast = { status: "failed", reason };
      return outcomes;
    }

    checkDeadline(context, "idle");
    const idleIntegrity = emptyIntegrity();
    fleet.integrity = idleIntegrity;
    await sleep(SETTLE_MS);
    const rssAllBytes = treeRssBytes(context.server.pid);
    context.log(`idle: ${total} sockets held for ${idleMs} ms`);
    const ticksBefore = treeCpuTicks(context.server.pid);
    const idleStarted = performance.now();
    await sleep(idleMs);
    const idleWindowMs = performance.now() - idleStarted;
    const ticks = treeCpuTicks(context.server.pid) - ticksBefore;
    const rssAfterIdleBytes = treeRssBytes(context.server.pid);
    outcomes.idle = isClean(idleIntegrity)
      ? {
          status: "ok",
          integrity: idleIntegrity,
          metrics: {
            sockets: total,
            users: userCount,
            rssBaseBytes,
            rssUsersBytes,
            rssAllBytes,
            rssAfterIdleBytes,
            perUserBytes: Math.round((rssUsersBytes - rssBaseBytes) / userCount),
            perExtraSocketBytes:
              total > userCount
                ? Math.round((rssAllBytes - rssUsersBytes) / (total - userCount))
                : 0,
            idleWindowMs: Math.round(idleWindowMs),
            idleCpuPercent: round((ticks / CLOCK_TICKS_PER_SECOND / (idleWindowMs / 1000)) * 100),
          },
        }
      : { status: "broken", integrity: idleIntegrity };

    checkDeadline(context, "broadcast");
    if (!context.adapter.capabilities.broadcast) {
      outcomes.broadcast = { status: "n/a", reason: "no server-side broadcast" };
      return outcomes;
    }
    outcomes.broadcast = await broadcastTo(context, fleet, broadcasts, parameters.dm.drainMs);
    return outcomes;
  } catch (error) {
    const reason = (error as Error).message;
    for (const key of ["connect", "idle", "broadcast"] as const) {
      if (outcomes[key].status === "failed") outcomes[key] = { status: "failed", reason };
    }
    return outcomes;
  } finally {
    await fleet.closeAll();
  }
}

async function broadcastTo(
  context: ScenarioContext,
  fleet: Fleet,
  sends: number,
  drainMs: number,
): Promise<Outcome<BroadcastMetrics>> {
  const ledger = new Ledger();
  const sendIntegrity: Integrity = emptyIntegrity();
  fleet.integrity = ledger.integrity;
  fleet.handler = (index, delivery) => {
    if (delivery.kind === "broadcast") ledger.receive(index, delivery.body);
    else if (delivery.kind !== "ack") ledger.receive(index, `${delivery.kind}:unexpected`);
  };
  const recipients = new Set(fleet.openIndexes);
  context.log(`broadcast: ${sends} broadcasts to ${recipients.size} sockets`);
  await context.meter?.reset();
  let sent = 0;
  for (let n = 0; n < sends; n++) {
    checkDeadline(context, `broadcast ${n}`);
    const key = `bc-${context.tag}-${n}`;
    ledger.expect(key, recipients);
    try {
      await context.adapter.broadcast(Ledger.body(key));
      sent++;
    } catch (error) {
      ledger.cancel(key);
      sendIntegrity.errors++;
      sendIntegrity.samples.push(`broadcast ${n}: ${(error as Error).message}`);
      break;
    }
    await ledger.drain(drainMs);
    await sleep(100);
  }
  const work = (await context.meter?.perMessage(sent)) ?? null;
  const integrity = ledger.settle();
  addIntegrity(integrity, sendIntegrity);
  if (!isClean(integrity)) return { status: "broken", integrity };
  return {
    status: "ok",
    integrity,
    metrics: {
      sockets: recipients.size,
      sends,
      timeToLastMs: roundPercentiles(percentiles(ledger.completionLatencies)),
      deliveryMs: roundPercentiles(percentiles(ledger.deliveryLatencies)),
      work,
    },
  };
}
