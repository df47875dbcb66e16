// What every scenario gets and returns.
import type { ServerAdapter } from "./adapter.ts";
import type { BilledMeter } from "./billed.ts";
import type { Integrity } from "./ledger.ts";
import type { TokenMint } from "./tokens.ts";

export interface ServerProbe {
  /** Root process of the server; its whole tree is measured. */
  readonly pid: number;
}

export interface ScenarioContext {
  readonly adapter: ServerAdapter;
  readonly mint: TokenMint;
  readonly server: ServerProbe;
  /** The server's HTTP base (its `GET /health` answers while it serves). */
  readonly httpBase: string;
  /** Makes user ids and group names unique per run. `[a-z0-9]+` */
  readonly tag: string;
  /** performance.now() after which the run must stop. */
  readonly deadline: number;
  readonly log: (line: string) => void;
  /** Hears every later line the server prints (absent when its output is not followed). */
  readonly onServerLine?: (listener: (line: string) => void) => void;
  /** The gateway's count of billed work (bench build only); null for other servers. */
  readonly meter: BilledMeter | null;
}

export type Outcome<M> =
  | { readonly status: "ok"; readonly integrity: Integrity; readonly metrics: M }
  /** Lost, duplicated or misrouted messages, errors or dropped sockets: no numbers. */
  | { readonly status: "broken"; readonly integrity: Integrity }
  /** The server cannot do this (e.g. the DO relay has no groups). */
  | { readonly status: "n/a"; readonly reason: string }
  /** The scenario itself failed (exception, deadline). */
  | { readonly status: "failed"; readonly reason: string };

export class DeadlineError extends Error {
  override readonly name = "DeadlineError";
}

export function checkDeadline(context: ScenarioContext, what: string): void {
  if (performance.now() > context.deadline)
    throw new DeadlineError(`time budget exhausted before ${what}`);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
