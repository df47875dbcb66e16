import { GatewayError } from "../../protocol/errors.ts";
import { boundGrants } from "../connection.ts";
import type { Handler } from "./types.ts";

/**
 * A fresh token for the same user moves this socket's expiry forward. A token for someone else,
 * or one that expires no later than the current one, is refused and the socket keeps its old expiry.
 */
export const refreshToken: Handler<"refresh_token"> = async (ctx, command) => {
  const principal = await ctx.hub.verifyToken(command.data.token);
  if (principal.userId !== ctx.connection.userId) {
    throw new GatewayError("unauthorized", "token is for another user");
  }
  if (principal.expiresAt <= ctx.connection.expiresAt) {
    throw new GatewayError("unauthorized", "token does not extend the current expiry");
  }
  ctx.connection.expiresAt = principal.expiresAt;
  // Rights follow the newest token: a demoted user loses staff rights at the refresh.
  ctx.connection.grants = boundGrants(principal.groups);
  ctx.connection.isStaff = principal.isStaff;
  ctx.connection.isSuperuser = principal.isSuperuser;
  ctx.connection.username = principal.username;
  ctx.hub.saveConnection(ctx.connection);
  await ctx.hub.reschedule();
  ctx.reply("token_refreshed", { expires_at: new Date(principal.expiresAt * 1000).toISOString() });
};
