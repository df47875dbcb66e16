import { boundGrants } from "../../core/connection.ts";
import { mayJoin } from "../../core/groups.ts";
import { encodeFrame } from "../../protocol/codec.ts";
import { Disconnects, GatewayError } from "../../protocol/errors.ts";
import { leaveRoom } from "../leave-room.ts";
import { type CommandContext, type Handler, operationContext } from "./types.ts";

/**
 * A fresh token for the same user moves this socket's expiry forward and replaces its rights
 * (grants, staff flags). A token for someone else, or one that expires no later than the current
 * one, is refused and the socket keeps its old expiry and rights. Resolves with the joined groups
 * the new rights no longer allow (groups joined with a subscription token are kept: the
 * connection token never granted them).
 */
async function renewRights(ctx: CommandContext, token: string): Promise<string[]> {
  const principal = await ctx.host.verifyToken(token);
  if (principal.userId !== ctx.connection.userId) {
    throw new GatewayError("unauthorized", "token is for another user");
  }
  if (principal.expiresAt <= ctx.connection.expiresAt) {
    throw new GatewayError("unauthorized", "token does not extend the current expiry");
  }
  const { connection } = ctx;
  connection.expiresAt = principal.expiresAt;
  // Rights follow the newest token: a demoted user loses staff rights at the refresh.
  connection.grants = boundGrants(principal.groups);
  connection.isStaff = principal.isStaff;
  connection.isSuperuser = principal.isSuperuser;
  connection.username = principal.username;
  const revoked = connection.groups.filter(
    (g) => !connection.subscribed.includes(g) && !mayJoin(connection, g, ctx.config),
  );
  // Out of the list before any await, so nothing more is delivered to this socket for them.
  connection.groups = connection.groups.filter((g) => !revoked.includes(g));
  ctx.host.saveConnection(connection);
  await ctx.host.reschedule();
  return revoked;
}

function refreshed(ctx: CommandContext): void {
  const expiresAt = new Date(ctx.connection.expiresAt * 1000).toISOString();
  ctx.reply("token_refreshed", { expires_at: expiresAt });
}

/** User sockets: leave the groups the new token no longer allows, each with `group_left`. */
export const refreshToken: Handler<"refresh_token"> = async (ctx, command) => {
  const revoked = await renewRights(ctx, command.data.token);
  for (const name of revoked) {
    const memberCount = await leaveRoom(
      operationContext(ctx),
      name,
      ctx.connection.userId,
      ctx.connection.connectionId,
    );
    ctx.send(
      encodeFrame("group_left", {
        group_name: name,
        member_count: memberCount,
        reason: "forbidden",
      }),
    );
  }
  refreshed(ctx);
};

/**
 * Consultation sockets exist for their one room: when the new token no longer allows it, the
 * socket is told why and closed with 4003, as the upgrade would have been refused with 403.
 */
export const refreshConsultationToken: Handler<"refresh_token"> = async (ctx, command) => {
  const revoked = await renewRights(ctx, command.data.token);
  if (revoked.length > 0) {
    const error = new GatewayError("forbidden", "the new token does not allow this consultation");
    ctx.reply("error", error.toBody());
    ctx.close(Disconnects.consultationForbidden);
    return;
  }
  refreshed(ctx);
};
