// Not measured: wakes the server (JIT, first Durable Objects, lazy modules) and proves it
// speaks the protocol before anything is timed. A broken warmup stops this server's run.
import { Fleet } from "../fleet.ts";
import { type Integrity, isClean, Ledger } from "../ledger.ts";
import type { BenchParameters } from "../params.ts";
import type { ScenarioContext } from "../scenario.ts";
import { benchUser } from "../tokens.ts";

export async function warmup(
  context: ScenarioContext,
  parameters: BenchParameters,
): Promise<Integrity> {
  const users = Array.from({ length: Math.max(2, parameters.warmup.users) }, (_, i) =>
    benchUser(`warm-${context.tag}-${i}`),
  );
  const fleet = new Fleet(context.adapter, context.mint);
  const ledger = new Ledger();
  fleet.integrity = ledger.integrity;
  fleet.handler = (index, delivery) => {
    if (delivery.kind === "dm") ledger.receive(index, delivery.body);
  };
  try {
    await fleet.open(users, parameters.connectConcurrency, parameters.connectTimeoutMs);
    if (!isClean(ledger.integrity)) return ledger.integrity;
    for (let n = 0; n < parameters.warmup.messages; n++) {
      const from = n % users.length;
      const to = (from + 1) % users.length;
      const key = `warm-${n}`;
      ledger.expect(key, new Set([to]));
      fleet.sockets[from]?.sendDirect(users[to]?.userId ?? "", Ledger.body(key));
      if (n % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await ledger.drain(parameters.dm.drainMs);
    return ledger.settle();
  } finally {
    await fleet.closeAll();
  }
}
