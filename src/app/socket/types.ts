import type { Config } from "../../core/config.ts";
import type { Connection } from "../../core/connection.ts";
import type { Disconnect } from "../../protocol/errors.ts";
import type {
  ClientCommand,
  CommandType,
  RequestId,
  Resumed,
  ServerData,
  ServerType,
} from "../../protocol/messages.ts";
import type { Actors, AppContext, Ids } from "../context.ts";

/** What a command handler may ask of the actor that holds its socket (a UserHub or a RoomHub). */
export interface HoldingActor {
  /** The other actors, as the application's operations reach them from this socket. */
  readonly actors: Actors;
  /** Live sockets of this socket's user (local and leased). */
  connectionCount(): number | Promise<number>;
  /** Persist a changed connection (its attachment). */
  saveConnection(connection: Connection): void;
  /** Re-arm the actor's alarm after a deadline (token expiry) moved. */
  reschedule(): Promise<void>;
  /** What `resume` answers: the user's mailbox after `sinceSeq` (the room's history on room sockets). */
  replay(sinceSeq: number): Resumption;
}

/** The frames a `resume` replays, in order, then its `resumed` reply. */
export interface Resumption {
  frames: string[];
  resumed: Resumed;
}

/**
 * The sending user's budget (docs/protocol.md, "Budgets"; src/core/user-budget.ts). The frame's own
 * cost was taken before the handler ran; handlers add what only they know.
 */
export interface CommandBudget {
  /** Charge the users a message reached, known only after it was sent. */
  chargeReached(users: number): void;
  /** Throws `rate_limited` when a direct message to `userId` would pass the new-target cap. */
  admitTarget(userId: string): void;
}

/** For sockets held by an actor that keeps no per-user budget (a RoomHub's consultation sockets). */
export const NO_BUDGET: CommandBudget = {
  chargeReached: () => undefined,
  admitTarget: () => undefined,
};

export interface CommandContext {
  readonly connection: Connection;
  readonly config: Config;
  readonly holder: HoldingActor;
  readonly budget: CommandBudget;
  readonly now: () => number;
  /** Where new message ids come from. */
  readonly ids: Ids;
  /** Send an already encoded frame on this socket. */
  send(frame: string): void;
  /** Close this socket from the server side (the actor's close hook then cleans up). */
  close(disconnect: Disconnect): void;
  /** Send a reply on this socket, echoing the request id. */
  reply<K extends ServerType>(type: K, data: ServerData[K]): void;
  readonly requestId: RequestId | undefined;
}

export type Handler<K extends CommandType> = (
  ctx: CommandContext,
  command: Extract<ClientCommand, { type: K }>,
) => void | Promise<void>;

export type HandlerTable = { [K in CommandType]: Handler<K> };

/** What the application's operations are given when a command on this socket calls them. */
export function operationContext(ctx: CommandContext): AppContext {
  return { actors: ctx.holder.actors, clock: { now: ctx.now }, ids: ctx.ids };
}
