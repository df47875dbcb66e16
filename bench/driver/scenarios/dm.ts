// dm: P pairs of users, one socket each; every user sends direct messages to its partner at
// an open-loop rate (messages are sent on schedule whether or not earlier ones arrived, so a
// server that falls behind shows it as latency and as a delivered rate below the offered one).
// The base step gives the latency percentiles; then the ladder raises the rate until a step
// is not kept up, which bounds the sustained throughput.
import type { Delivery } from "../adapter.ts";
import type { BilledWork } from "../billed.ts";
import { Fleet } from "../fleet.ts";
import { addIntegrity, emptyIntegrity, type Integrity, isClean, Ledger, note } from "../ledger.ts";
import type { BenchParameters } from "../params.ts";
import { checkDeadline, type Outcome, type ScenarioContext, sleep } from "../scenario.ts";
import { type Percentiles, percentiles, round, roundPercentiles } from "../stats.ts";
import { benchUser } from "../tokens.ts";

export interface DmStep {
  /** Messages per second asked for. */
  readonly offeredRate: number;
  readonly durationMs: number;
  readonly sent: number;
  /** What the driver managed to send (the driver shares the cores with the server). */
  readonly sentPerSecond: number;
  readonly delivered: number;
  /** Deliveries over the time from the first send to the last delivery. */
  readonly deliveredPerSecond: number;
  /** Milliseconds from the last send until the last delivery. */
  readonly drainMs: number;
  readonly latencyMs: Percentiles | null;
  /** Delivered and sent at least 95 % of the offered rate, nothing lost. */
  readonly keptUp: boolean;
  /** The driver itself could not send at 95 % of the offered rate (it shares the cores). */
  readonly driverLimited: boolean;
}

export interface DmMetrics {
  readonly pairs: number;
  readonly sockets: number;
  readonly base: DmStep;
  readonly steps: readonly DmStep[];
  /** Delivered/s of the fastest step that was kept up. */
  readonly sustainedDeliveredPerSecond: number;
  /** True when even the last ladder step was kept up: the server can do more. */
  readonly sustainedIsLowerBound: boolean;
  /** Highest delivered/s of any step. */
  readonly peakDeliveredPerSecond: number;
  /** Actor calls and rows written per message of the base step (the gateway's meter), or null. */
  readonly work: BilledWork | null;
}

const KEPT_UP_FRACTION = 0.95;
const TICK_MS = 2;
const ACK_GRACE_MS = 2_000;

export async function dm(
  context: ScenarioContext,
  parameters: BenchParameters,
): Promise<Outcome<DmMetrics>> {
  const { baseRate, primeMs, baseDurationMs, ladder, stepDurationMs, maxPerSocketRate, drainMs } =
    parameters.dm;
  const topRate = Math.max(baseRate, ...ladder);
  const pairs = Math.max(2, Math.ceil(topRate / maxPerSocketRate / 2));
  const users = Array.from({ length: pairs * 2 }, (_, i) => benchUser(`dm-${context.tag}-${i}`));
  const fleet = new Fleet(context.adapter, context.mint);
  const total: Integrity = emptyIntegrity();
  try {
    context.log(`dm: opening ${users.length} sockets (${pairs} pairs)`);
    const opened = await fleet.open(
      users,
      parameters.connectConcurrency,
      parameters.connectTimeoutMs,
    );
    if (opened.failed > 0) {
      addIntegrity(total, fleet.integrity);
      return { status: "broken", integrity: total };
    }
    // Not measured, but its messages are accounted for like any other.
    context.log(`dm: priming at ${baseRate} msg/s for ${primeMs} ms`);
    const prime = await runStep(
      fleet,
      users.length,
      baseRate,
      primeMs,
      drainMs,
      `${context.tag}-prime`,
    );
    addIntegrity(total, prime.integrity);
    if (!isClean(prime.integrity)) return { status: "broken", integrity: total };
    await sleep(500);
    const steps: DmStep[] = [];
    let work: BilledWork | null = null;
    await context.meter?.reset();
    for (const [i, rate] of [baseRate, ...ladder].entries()) {
      checkDeadline(context, `dm at ${rate}/s`);
      const duration = i === 0 ? baseDurationMs : stepDurationMs;
      context.log(`dm: ${rate} msg/s for ${duration} ms`);
      const { step, integrity } = await runStep(
        fleet,
        users.length,
        rate,
        duration,
        drainMs,
        `${context.tag}-${i}`,
      );
      addIntegrity(total, integrity);
      steps.push(step);
      if (i === 0) work = (await context.meter?.perMessage(step.sent)) ?? null;
      context.log(
        `dm: ${rate} msg/s -> sent ${step.sentPerSecond}/s, delivered ${step.deliveredPerSecond}/s, p99 ${step.latencyMs?.p99 ?? "-"} ms${step.keptUp ? "" : " (not kept up)"}`,
      );
      if (!isClean(integrity) || !step.keptUp) break;
      await sleep(500);
    }
    if (!isClean(total)) return { status: "broken", integrity: total };
    const keptUp = steps.filter((step) => step.keptUp);
    const last = steps[steps.length - 1];
    return {
      status: "ok",
      integrity: total,
      metrics: {
        pairs,
        sockets: users.length,
        base: steps[0] as DmStep,
        steps,
        sustainedDeliveredPerSecond: Math.max(0, ...keptUp.map((step) => step.deliveredPerSecond)),
        sustainedIsLowerBound: steps.length === ladder.length + 1 && last?.keptUp === true,
        peakDeliveredPerSecond: Math.max(0, ...steps.map((step) => step.deliveredPerSecond)),
        work,
      },
    };
  } catch (error) {
    return { status: "failed", reason: (error as Error).message };
  } finally {
    await fleet.closeAll();
  }
}

async function runStep(
  fleet: Fleet,
  socketCount: number,
  rate: number,
  durationMs: number,
  drainMs: number,
  stepTag: string,
): Promise<{ step: DmStep; integrity: Integrity }> {
  const ledger = new Ledger();
  fleet.integrity = ledger.integrity;
  let acks = 0;
  fleet.handler = (index: number, delivery: Delivery) => {
    if (delivery.kind === "dm") ledger.receive(index, delivery.body);
    else if (delivery.kind === "ack") acks++;
    else ledger.receive(index, `${delivery.kind}:unexpected`);
  };
  let sent = 0;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      const elapsed = Math.min(now - started, durationMs);
      const due = Math.floor((elapsed * rate) / 1000) - sent;
      for (let k = 0; k < due; k++) {
        const from = sent % socketCount;
        // Partners are 2i and 2i+1.
        const to = from ^ 1;
        const sender = fleet.sockets[from];
        const target = fleet.sockets[to];
        const key = `dm-${stepTag}-${sent}`;
        sent++;
        if (!sender || !target) continue;
        ledger.expect(key, new Set([to]));
        sender.sendDirect(target.user.userId, Ledger.body(key));
      }
      if (now - started >= durationMs) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  const sendEnded = performance.now();
  await ledger.drain(drainMs);
  const ackDeadline = performance.now() + ACK_GRACE_MS;
  while (acks < sent && performance.now() < ackDeadline) await sleep(20);
  const integrity = ledger.settle();
  if (acks < sent) {
    integrity.errors += sent - acks;
    note(integrity, `${sent - acks} of ${sent} direct messages were never acknowledged`);
  }
  const sendSeconds = (sendEnded - started) / 1000;
  const deliverySeconds = (ledger.lastDeliveredAt - ledger.firstSentAt) / 1000;
  const delivered = ledger.deliveries;
  const sentPerSecond = round(sent / sendSeconds, 1);
  const deliveredPerSecond =
    delivered > 0 && deliverySeconds > 0 ? round(delivered / deliverySeconds, 1) : 0;
  return {
    integrity,
    step: {
      offeredRate: rate,
      durationMs,
      sent,
      sentPerSecond,
      delivered,
      deliveredPerSecond,
      drainMs: delivered > 0 ? round(Math.max(0, ledger.lastDeliveredAt - sendEnded)) : 0,
      latencyMs: roundPercentiles(percentiles(ledger.deliveryLatencies)),
      keptUp:
        isClean(integrity) &&
        sentPerSecond >= KEPT_UP_FRACTION * rate &&
        deliveredPerSecond >= KEPT_UP_FRACTION * rate,
      driverLimited: sentPerSecond < KEPT_UP_FRACTION * rate,
    },
  };
}
