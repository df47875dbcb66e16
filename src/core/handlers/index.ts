/**
 * Dispatch: one handler per command type. A command whose feature is not built yet answers
 * a typed error, never silence.
 */
import { GatewayError } from "../../protocol/errors.ts";
import type { ClientCommand } from "../../protocol/messages.ts";
import { broadcast } from "./broadcast.ts";
import { getStatus } from "./get-status.ts";
import { ping } from "./ping.ts";
import { refreshToken } from "./refresh-token.ts";
import { resume } from "./resume.ts";
import { sendMessage } from "./send-message.ts";
import type { CommandContext, Handler, HandlerTable } from "./types.ts";

const notAvailable = (_ctx: CommandContext, command: ClientCommand): never => {
  throw new GatewayError("unavailable", `${command.type} is not available on this gateway yet`);
};

export const DEFAULT_HANDLERS: HandlerTable = {
  ping,
  get_status: getStatus,
  refresh_token: refreshToken,
  send_message: sendMessage,
  broadcast,
  join_group: notAvailable,
  leave_group: notAvailable,
  group_message: notAvailable,
  consultation_message: notAvailable,
  resume,
};

export function dispatch(
  handlers: HandlerTable,
  ctx: CommandContext,
  command: ClientCommand,
): void | Promise<void> {
  // The table is keyed by the command's own type, so this pairing is sound; TypeScript cannot
  // correlate the two unions by itself.
  const handler = handlers[command.type] as Handler<typeof command.type>;
  return handler(ctx, command as never);
}

export type { CommandContext, HandlerTable, HubPort } from "./types.ts";
