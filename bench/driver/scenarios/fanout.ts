// fanout: M users, one socket each, all members of one group; repeated server-side sends to
// the group, one at a time; time until the last member has each.
// broadcastUsers: M users, one socket each; repeated staff broadcasts, one at a time; time
// until the last user has each.
// fanoutRoom: M users, one room socket each (`/ws/group/{name}/`, held by the room itself; a
// server without room sockets opens a socket and joins); the same sends as fanout.
// All report, for the gateway, the billed work per message its meter counted during the sends.
import type { ServerAdapter } from "../adapter.ts";
import type { BilledWork } from "../billed.ts";
import { Fleet, inPool } from "../fleet.ts";
import { addIntegrity, emptyIntegrity, isClean, Ledger, note } from "../ledger.ts";
import type { BenchParameters } from "../params.ts";
import { checkDeadline, type Outcome, type ScenarioContext, sleep } from "../scenario.ts";
import { settle } from "../settle.ts";
import { type Percentiles, percentiles, roundPercentiles } from "../stats.ts";
import { benchUser } from "../tokens.ts";

export interface FanoutMetrics {
  readonly members: number;
  readonly sends: number;
  /** Per send: milliseconds from the send until the last member had it. */
  readonly timeToLastMs: Percentiles | null;
  /** Per delivery, milliseconds. */
  readonly deliveryMs: Percentiles | null;
  /** Actor calls and rows written per send (the gateway's bench meter), or null. */
  readonly work: BilledWork | null;
}

const JOIN_CONCURRENCY = 50;
/**
 * fanout, fanoutRoom, broadcastUsers and storm open sockets for the same users (one after the
 * other): every user is an actor with its storage open, and workerd serve keeps them all open
 * for the run, so a crowd of 2,000 distinct users per scenario would exhaust its file
 * descriptors (SQLITE_CANTOPEN, upgrades answered 500).
 */
export const SHARED_USERS = "fan";
const GROUP_CLAIMS = ["group_bench_*", "group_room_*"];
/** Broadcast bodies sent until every user is listed online; their deliveries are ignored. */
const PROBE_PREFIX = "probe-";
const ONLINE_WITHIN_MS = 60_000;
/** At most this long waiting for the server to go quiet before the sends (then they start anyway). */
const SETTLE_MAX_MS = 30_000;

interface Plan {
  readonly name: string;
  readonly members: number;
  readonly sends: number;
  readonly groupsClaim: readonly string[];
  /** How a socket is opened (default: the adapter's user socket). */
  readonly connect?: ServerAdapter["connect"];
  /** After the sockets opened, before the sends; throws when the fleet is not ready. */
  prepare(fleet: Fleet): Promise<void>;
  send(body: string): Promise<unknown>;
  /** Whether a delivery is one of the scenario's messages (else: ignored, or unexpected). */
  accepts(delivery: Parameters<Fleet["handler"]>[1]): "mine" | "ignore" | "unexpected";
}

async function joinAll(fleet: Fleet, group: string): Promise<void> {
  await inPool(fleet.openIndexes, JOIN_CONCURRENCY, async (index) => {
    try {
      await fleet.sockets[index]?.joinGroup(group);
    } catch (error) {
      fleet.integrity.errors++;
      note(fleet.integrity, `socket #${index}: ${(error as Error).message}`);
    }
  });
}

export async function fanout(
  context: ScenarioContext,
  parameters: BenchParameters,
): Promise<Outcome<FanoutMetrics>> {
  if (!context.adapter.capabilities.groups) return { status: "n/a", reason: "no groups" };
  const group = `group_bench_${context.tag}`;
  return sendToMany(context, parameters, {
    name: "fanout",
    ...parameters.fanout,
    groupsClaim: GROUP_CLAIMS,
    prepare: (fleet) => joinAll(fleet, group),
    send: (body) => context.adapter.sendToGroup(group, body),
    accepts: (d) => (d.kind === "group" && d.group === group ? "mine" : "unexpected"),
  });
}

export async function fanoutRoom(
  context: ScenarioContext,
  parameters: BenchParameters,
): Promise<Outcome<FanoutMetrics>> {
  if (!context.adapter.capabilities.groups) return { status: "n/a", reason: "no groups" };
  const group = `group_room_${context.tag}`;
  const { connectRoom } = context.adapter;
  return sendToMany(context, parameters, {
    name: "fanoutRoom",
    ...parameters.fanout,
    groupsClaim: GROUP_CLAIMS,
    ...(connectRoom
      ? { connect: (request) => connectRoom.call(context.adapter, request, group) }
      : {}),
    prepare: (fleet) => (connectRoom ? Promise.resolve() : joinAll(fleet, group)),
    send: (body) => context.adapter.sendToGroup(group, body),
    accepts: (d) => (d.kind === "group" && d.group === group ? "mine" : "unexpected"),
  });
}

export async function broadcastToUsers(
  context: ScenarioContext,
  parameters: BenchParameters,
): Promise<Outcome<FanoutMetrics>> {
  if (!context.adapter.capabilities.broadcast) return { status: "n/a", reason: "no broadcast" };
  const { users, sends } = parameters.broadcastUsers;
  return sendToMany(context, parameters, {
    name: "broadcastUsers",
    members: users,
    sends,
    groupsClaim: GROUP_CLAIMS,
    // A broadcast reaches users listed online; the gateway lists them a moment after they
    // connect (through each user's outbox). Probe until the server counts every one.
    prepare: async (fleet) => {
      const wanted = fleet.openIndexes.length;
      const until = performance.now() + ONLINE_WITHIN_MS;
      for (let n = 0; ; n++) {
        const reached = await context.adapter.broadcast(`${PROBE_PREFIX}${n}`);
        if (reached >= wanted) return;
        if (performance.now() > until) {
          fleet.integrity.errors++;
          note(fleet.integrity, `only ${reached} of ${wanted} users listed online`);
          return;
        }
        await sleep(500);
      }
    },
    send: (body) => context.adapter.broadcast(body),
    accepts: (d) =>
      d.kind !== "broadcast" ? "unexpected" : d.body.startsWith(PROBE_PREFIX) ? "ignore" : "mine",
  });
}

async function sendToMany(
  context: ScenarioContext,
  parameters: BenchParameters,
  plan: Plan,
): Promise<Outcome<FanoutMetrics>> {
  const users = Array.from({ length: plan.members }, (_, i) =>
    benchUser(`${SHARED_USERS}-${context.tag}-${i}`, [...plan.groupsClaim]),
  );
  const fleet = new Fleet(context.adapter, context.mint);
  const setup = emptyIntegrity();
  fleet.integrity = setup;
  let ledger: Ledger | null = null;
  fleet.handler = (index, delivery) => {
    if (delivery.kind === "ack") return;
    const verdict = plan.accepts(delivery);
    if (verdict === "ignore") return;
    if (ledger === null) {
      if (verdict === "unexpected") note(setup, `socket #${index}: unexpected ${delivery.kind}`);
      return;
    }
    const body = "body" in delivery ? delivery.body : "";
    ledger.receive(index, verdict === "mine" ? body : `${delivery.kind}:unexpected`);
  };
  try {
    context.log(`${plan.name}: opening ${plan.members} sockets`);
    await fleet.open(
      users,
      parameters.connectConcurrency,
      parameters.connectTimeoutMs,
      plan.connect,
    );
    if (isClean(setup)) await plan.prepare(fleet);
    if (!isClean(setup)) return { status: "broken", integrity: setup };

    const current = new Ledger();
    fleet.integrity = current.integrity;
    await sleep(500);
    // The setup's background work (presence, mirrors) is not part of the fan-out.
    const settled = await settle(context.server, SETTLE_MAX_MS);
    context.log(
      `${plan.name}: ${settled.quiet ? "server quiet" : "server still busy"} after ${settled.waitedMs} ms`,
    );
    ledger = current;
    const recipients = new Set(fleet.openIndexes);
    context.log(`${plan.name}: ${plan.sends} sends to ${recipients.size} users`);
    await context.meter?.reset();
    let sent = 0;
    for (let n = 0; n < plan.sends; n++) {
      checkDeadline(context, `${plan.name} send ${n}`);
      const key = `${plan.name}-${context.tag}-${n}`;
      current.expect(key, recipients);
      try {
        await plan.send(Ledger.body(key));
        sent++;
      } catch (error) {
        current.cancel(key);
        setup.errors++;
        note(setup, `send ${n}: ${(error as Error).message}`);
        break;
      }
      await current.drain(parameters.dm.drainMs);
      await sleep(100);
    }
    context.log(`${plan.name}: ${sent} sends done`);
    const work = (await context.meter?.perMessage(sent)) ?? null;
    const integrity = current.settle();
    addIntegrity(integrity, setup);
    if (!isClean(integrity)) return { status: "broken", integrity };
    return {
      status: "ok",
      integrity,
      metrics: {
        members: recipients.size,
        sends: plan.sends,
        timeToLastMs: roundPercentiles(percentiles(current.completionLatencies)),
        deliveryMs: roundPercentiles(percentiles(current.deliveryLatencies)),
        work,
      },
    };
  } catch (error) {
    return { status: "failed", reason: (error as Error).message };
  } finally {
    await fleet.closeAll();
  }
}
