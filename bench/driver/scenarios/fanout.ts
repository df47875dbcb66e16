// fanout: M users, one socket each, all members of one group; repeated server-side sends to
// the group, one at a time; time until the last member has each.
import { Fleet, inPool } from "../fleet.ts";
import { addIntegrity, emptyIntegrity, isClean, Ledger, note } from "../ledger.ts";
import type { BenchParameters } from "../params.ts";
import { checkDeadline, type Outcome, type ScenarioContext, sleep } from "../scenario.ts";
import { type Percentiles, percentiles, roundPercentiles } from "../stats.ts";
import { benchUser } from "../tokens.ts";

export interface FanoutMetrics {
  readonly members: number;
  readonly sends: number;
  /** Per send: milliseconds from the send until the last member had it. */
  readonly timeToLastMs: Percentiles | null;
  /** Per delivery, milliseconds. */
  readonly deliveryMs: Percentiles | null;
}

const JOIN_CONCURRENCY = 50;

export async function fanout(
  context: ScenarioContext,
  parameters: BenchParameters,
): Promise<Outcome<FanoutMetrics>> {
  if (!context.adapter.capabilities.groups) return { status: "n/a", reason: "no groups" };
  const { members, sends } = parameters.fanout;
  const group = `group_bench_${context.tag}`;
  const users = Array.from({ length: members }, (_, i) =>
    benchUser(`fan-${context.tag}-${i}`, ["group_bench_*"]),
  );
  const fleet = new Fleet(context.adapter, context.mint);
  const setup = emptyIntegrity();
  fleet.integrity = setup;
  try {
    context.log(`fanout: opening ${members} sockets, joining ${group}`);
    await fleet.open(users, parameters.connectConcurrency, parameters.connectTimeoutMs);
    await inPool(fleet.openIndexes, JOIN_CONCURRENCY, async (index) => {
      try {
        await fleet.sockets[index]?.joinGroup(group);
      } catch (error) {
        setup.errors++;
        note(setup, `socket #${index}: ${(error as Error).message}`);
      }
    });
    if (!isClean(setup)) return { status: "broken", integrity: setup };

    const ledger = new Ledger();
    fleet.integrity = ledger.integrity;
    fleet.handler = (index, delivery) => {
      if (delivery.kind === "group" && delivery.group === group)
        ledger.receive(index, delivery.body);
      else if (delivery.kind !== "ack") ledger.receive(index, `${delivery.kind}:unexpected`);
    };
    const recipients = new Set(fleet.openIndexes);
    context.log(`fanout: ${sends} sends to ${recipients.size} members`);
    for (let n = 0; n < sends; n++) {
      checkDeadline(context, `fanout send ${n}`);
      const key = `fan-${context.tag}-${n}`;
      ledger.expect(key, recipients);
      try {
        await context.adapter.sendToGroup(group, Ledger.body(key));
      } catch (error) {
        ledger.cancel(key);
        setup.errors++;
        note(setup, `send ${n}: ${(error as Error).message}`);
        break;
      }
      await ledger.drain(parameters.dm.drainMs);
      await sleep(100);
    }
    const integrity = ledger.settle();
    addIntegrity(integrity, setup);
    if (!isClean(integrity)) return { status: "broken", integrity };
    return {
      status: "ok",
      integrity,
      metrics: {
        members: recipients.size,
        sends,
        timeToLastMs: roundPercentiles(percentiles(ledger.completionLatencies)),
        deliveryMs: roundPercentiles(percentiles(ledger.deliveryLatencies)),
      },
    };
  } catch (error) {
    return { status: "failed", reason: (error as Error).message };
  } finally {
    await fleet.closeAll();
  }
}
