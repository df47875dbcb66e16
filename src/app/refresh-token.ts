import { verifyToken } from "../core/auth.ts";
import type { Config } from "../core/config.ts";
import { boundGrants, type Connection } from "../core/connection.ts";
import { mayJoin } from "../core/groups.ts";
import { GatewayError } from "../protocol/errors.ts";

/**
 * A fresh token for the same user moves the socket's expiry forward and replaces its rights
 * (grants, staff flags, username) in `connection`. A token for someone else, or one that expires
 * no later than the current one, is refused (`unauthorized`) and the connection is left as it
 * was. Resolves with the joined groups the new rights no longer allow, already taken out of
 * `connection.groups`; groups joined with a subscription token are kept (the connection token
 * never granted them). The caller saves the connection.
 */
export async function refreshToken(
  config: Config,
  connection: Connection,
  token: string,
): Promise<string[]> {
  const principal = await verifyToken(token, config);
  if (principal.userId !== connection.userId) {
    throw new GatewayError("unauthorized", "token is for another user");
  }
  if (principal.expiresAt <= connection.expiresAt) {
    throw new GatewayError("unauthorized", "token does not extend the current expiry");
  }
  connection.expiresAt = principal.expiresAt;
  connection.grants = boundGrants(principal.groups);
  connection.isStaff = principal.isStaff;
  connection.isSuperuser = principal.isSuperuser;
  connection.username = principal.username;
  const revoked = connection.groups.filter(
    (group) => !connection.subscribed.includes(group) && !mayJoin(connection, group, config),
  );
  connection.groups = connection.groups.filter((group) => !revoked.includes(group));
  return revoked;
}
