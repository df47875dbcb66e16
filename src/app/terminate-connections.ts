/**
 * Close every socket of a user with 4003 `terminated` (the user's sockets and the room sockets
 * leased to its UserHub), optionally refusing the user's upgrades until `blockUntil`.
 */
import type { Termination } from "../core/termination.ts";
import { GatewayError } from "../protocol/errors.ts";
import type { AppContext } from "./context.ts";

export async function terminateConnections(
  app: AppContext,
  userId: string,
  termination: Termination,
): Promise<{ closed: number }> {
  if (termination.blockUntil !== null && termination.blockUntil <= app.clock.now()) {
    throw new GatewayError("validation_failed", "block_until: must be in the future", {
      details: { field: "block_until" },
    });
  }
  return app.actors.user(userId).terminate(termination);
}
