import { GatewayError } from "../protocol/errors.ts";

/** The one `user_not_found`: for a user the gateway does not know, on every transport. */
export function userNotFound(userId: string): GatewayError {
  return new GatewayError("user_not_found", `no such user: ${userId}`, {
    details: { user_id: userId },
  });
}
