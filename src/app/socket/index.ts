/**
 * Dispatch: one handler per command type.
 */
import type { ClientCommand } from "../../protocol/messages.ts";
import { broadcast } from "./broadcast.ts";
import { getStatus } from "./get-status.ts";
import { consultationOnly, groupMessage, joinGroup, leaveGroup } from "./groups.ts";
import { ping } from "./ping.ts";
import { refreshToken } from "./refresh-token.ts";
import { resume } from "./resume.ts";
import { sendMessage } from "./send-message.ts";
import type { CommandContext, Handler, HandlerTable } from "./types.ts";

export const DEFAULT_HANDLERS: HandlerTable = {
  ping,
  get_status: getStatus,
  refresh_token: refreshToken,
  send_message: sendMessage,
  broadcast,
  join_group: joinGroup,
  leave_group: leaveGroup,
  group_message: groupMessage,
  consultation_message: consultationOnly,
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

export type {
  CommandBudget,
  CommandContext,
  HandlerTable,
  HoldingActor,
  Resumption,
} from "./types.ts";
export { NO_BUDGET } from "./types.ts";
