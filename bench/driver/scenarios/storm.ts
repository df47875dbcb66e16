// storm: the presence storm of issue 14. M users, one socket each, all in one group; three
// server-side sends to the group; then every socket closes at once without leaving. /health is
// probed every 250 ms from the first close until the storm is over and 3 s more: every probe
// must answer within 1 s (at least `watchMs` long). For the gateway, the rooms' log lines count the presence calls (one
// per flip per room, plus the room's calls to its members); other servers have no such line.
import { Fleet, inPool } from "../fleet.ts";
import { probeHealth } from "../health-probe.ts";
import { emptyIntegrity, isClean, note } from "../ledger.ts";
import type { BenchParameters } from "../params.ts";
import { checkDeadline, type Outcome, type ScenarioContext, sleep } from "../scenario.ts";
import { type Percentiles, percentiles, roundPercentiles } from "../stats.ts";
import { benchUser } from "../tokens.ts";
import { SHARED_USERS } from "./fanout.ts";

export interface StormMetrics {
  readonly members: number;
  /** Milliseconds from the first close until every flip reached the room (gateway), else null. */
  readonly settleMs: number | null;
  /** /health answer times during and after the storm, ms (a failed probe counts 5,000). */
  readonly healthMs: Percentiles | null;
  /** Probes that took over 1 s or failed. */
  readonly slowProbes: number;
  /** Calls from users' actors to the room (gateway), else null. */
  readonly roomCalls: number | null;
  /** Calls from the room to its members (gateway), else null. */
  readonly memberCalls: number | null;
}

const JOIN_CONCURRENCY = 50;
const HEALTH_WITHIN_MS = 1_000;
const AFTER_MS = 3_000;
const WINDOW_LINE =
  /RoomHub:presence: (\S+): presence window: (\d+) announcement\(s\) of \d+ user\(s\), (\d+) member call\(s\)/;

export async function storm(
  context: ScenarioContext,
  parameters: BenchParameters,
): Promise<Outcome<StormMetrics>> {
  if (!context.adapter.capabilities.groups) return { status: "n/a", reason: "no groups" };
  const { members, watchMs, settleTimeoutMs } = parameters.storm;
  const group = `group_storm_${context.tag}`;
  const users = Array.from({ length: members }, (_, i) =>
    benchUser(`${SHARED_USERS}-${context.tag}-${i}`, ["group_storm_*"]),
  );
  const room = { announced: 0, memberCalls: 0, seen: false };
  context.onServerLine?.((line) => {
    const match = WINDOW_LINE.exec(line);
    if (match?.[1] !== group) return;
    room.seen = true;
    room.announced += Number(match[2]);
    room.memberCalls += Number(match[3]);
  });
  const fleet = new Fleet(context.adapter, context.mint);
  const integrity = emptyIntegrity();
  fleet.integrity = integrity;
  let received = 0;
  fleet.handler = (index, delivery) => {
    if (delivery.kind === "group" && delivery.group === group) received++;
    else if (delivery.kind !== "ack") {
      integrity.misrouted++;
      note(integrity, `socket #${index} got an unexpected ${delivery.kind}`);
    }
  };
  try {
    context.log(`storm: opening ${members} sockets, joining ${group}`);
    await fleet.open(users, parameters.connectConcurrency, parameters.connectTimeoutMs);
    await inPool(fleet.openIndexes, JOIN_CONCURRENCY, async (index) => {
      try {
        await fleet.sockets[index]?.joinGroup(group);
      } catch (error) {
        integrity.errors++;
        note(integrity, `socket #${index}: ${(error as Error).message}`);
      }
    });
    if (!isClean(integrity)) return { status: "broken", integrity };
    const open = fleet.openIndexes.length;
    for (let n = 0; n < 3; n++) {
      checkDeadline(context, `storm send ${n}`);
      await context.adapter.sendToGroup(group, `storm-${context.tag}-${n}`);
    }
    const expected = 3 * open;
    const drainUntil = performance.now() + parameters.dm.drainMs;
    while (received < expected && performance.now() < drainUntil) await sleep(50);
    if (received !== expected) {
      integrity.lost += Math.max(0, expected - received);
      note(integrity, `storm: ${received} of ${expected} group messages arrived`);
    }

    context.log(`storm: closing all ${open} sockets without leaving, probing /health`);
    const probes = probeHealth(context.httpBase);
    const started = performance.now();
    await fleet.closeAll();
    // At least watchMs; for the gateway, until every flip reached the room, then AFTER_MS more.
    const until = started + settleTimeoutMs;
    while (room.announced < open && performance.now() < until) {
      // Only the gateway (the server with a meter) prints the rooms' lines.
      if (!room.seen && context.meter === null && performance.now() > started + watchMs) break;
      await sleep(100);
    }
    const settleMs = room.announced >= open ? Math.round(performance.now() - started) : null;
    await sleep(Math.max(AFTER_MS, started + watchMs - performance.now()));
    await probes.stop();
    const slowProbes = probes.times.filter((t) => t > HEALTH_WITHIN_MS).length;
    context.log(
      `storm: ${probes.times.length} probes, slowest ${Math.round(Math.max(...probes.times))} ms, ${slowProbes} over ${HEALTH_WITHIN_MS} ms; ` +
        (room.seen
          ? `${room.announced} room call(s), ${room.memberCalls} member call(s), settled in ${settleMs ?? "?"} ms`
          : "no room presence lines"),
    );
    return {
      status: "ok",
      integrity,
      metrics: {
        members: open,
        settleMs,
        healthMs: roundPercentiles(percentiles(probes.times)),
        slowProbes,
        roomCalls: room.seen ? room.announced : null,
        memberCalls: room.seen ? room.memberCalls : null,
      },
    };
  } catch (error) {
    return { status: "failed", reason: (error as Error).message };
  } finally {
    await fleet.closeAll();
  }
}
