/**
 * Commands on consultation sockets (`/ws/consultation/{id}/`), which the consultation's
 * RoomHub holds itself. They share the user-socket handlers where the meaning is the same.
 */
import { consultationIdOf } from "../../core/groups.ts";
import { GatewayError } from "../../protocol/errors.ts";
import type { ClientCommand } from "../../protocol/messages.ts";
import { postInConsultation } from "../post-in-consultation.ts";
import { getStatus } from "./get-status.ts";
import { ping } from "./ping.ts";
import { refreshConsultationToken } from "./refresh-token.ts";
import { resume } from "./resume.ts";
import { type CommandContext, type Handler, type HandlerTable, operationContext } from "./types.ts";

const userSocketsOnly = (_ctx: CommandContext, command: ClientCommand): never => {
  throw new GatewayError("forbidden", `${command.type} is only accepted on /ws/user/ sockets`);
};

export const consultationMessage: Handler<"consultation_message"> = async (ctx, command) => {
  const { connection } = ctx;
  // A room socket's one group is its room; only a consultation's room takes consultation_message.
  const room = connection.groups[0] ?? "";
  if (consultationIdOf(room) === null) {
    throw new GatewayError(
      "forbidden",
      "consultation_message is only accepted on consultation sockets",
    );
  }
  const sent = await postInConsultation(operationContext(ctx), {
    room,
    from: { userId: connection.userId, username: connection.username },
    message: command.data.message,
  });
  ctx.reply("message_sent", {
    message_id: sent.messageId,
    group_name: room,
    recipients: sent.recipients,
    delivered: sent.recipients > 0,
    sent_at: sent.sentAt,
  });
};

export const CONSULTATION_HANDLERS: HandlerTable = {
  ping,
  get_status: getStatus,
  refresh_token: refreshConsultationToken,
  resume,
  consultation_message: consultationMessage,
  send_message: userSocketsOnly,
  broadcast: userSocketsOnly,
  join_group: userSocketsOnly,
  leave_group: userSocketsOnly,
  group_message: userSocketsOnly,
};
