import { encodeFrame } from "../../protocol/codec.ts";
import { Disconnects, GatewayError } from "../../protocol/errors.ts";
import { leaveRoom } from "../leave-room.ts";
import { refreshToken as renewRights } from "../refresh-token.ts";
import { type CommandContext, type Handler, operationContext } from "./types.ts";

/** The new rights in the socket's attachment, its expiry in the actor's alarm; the revoked groups. */
async function refreshed(ctx: CommandContext, token: string): Promise<string[]> {
  const revoked = await renewRights(ctx.config, ctx.connection, token);
  ctx.holder.saveConnection(ctx.connection);
  await ctx.holder.reschedule();
  return revoked;
}

function replyRefreshed(ctx: CommandContext): void {
  const expiresAt = new Date(ctx.connection.expiresAt * 1000).toISOString();
  ctx.reply("token_refreshed", { expires_at: expiresAt });
}

/** User sockets: leave the groups the new token no longer allows, each with `group_left`. */
export const refreshToken: Handler<"refresh_token"> = async (ctx, command) => {
  const { userId, connectionId } = ctx.connection;
  for (const name of await refreshed(ctx, command.data.token)) {
    const memberCount = await leaveRoom(operationContext(ctx), name, userId, connectionId);
    ctx.send(
      encodeFrame("group_left", {
        group_name: name,
        member_count: memberCount,
        reason: "forbidden",
      }),
    );
  }
  replyRefreshed(ctx);
};

/**
 * Consultation sockets exist for their one room: when the new token no longer allows it, the
 * socket is told why and closed with 4003, as the upgrade would have been refused with 403.
 */
export const refreshConsultationToken: Handler<"refresh_token"> = async (ctx, command) => {
  if ((await refreshed(ctx, command.data.token)).length > 0) {
    const error = new GatewayError("forbidden", "the new token does not allow this consultation");
    ctx.reply("error", error.toBody());
    ctx.close(Disconnects.consultationForbidden);
    return;
  }
  replyRefreshed(ctx);
};
