/**
 * The RealtimeService binding refuses what the HTTP API refuses: text Postgres cannot store,
 * numeric user ids beyond 2^53 - 1 and data nested deeper than 32 levels, as 400
 * validation_failed carried across the binding.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { RealtimeApiError } from "../../src/sdk/errors.ts";
import { connectAs, uniqueUser } from "./helpers.ts";

const service = exports.RealtimeService;

async function refusal(call: Promise<unknown>): Promise<RealtimeApiError> {
  try {
    await call;
  } catch (err) {
    const error = RealtimeApiError.from(err);
    if (error !== null) return error;
    throw err;
  }
  throw new Error("the call succeeded");
}

function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = { k: value };
  return value;
}

describe("RealtimeService validation", () => {
  it("refuses U+0000, lone surrogates, unsafe numeric ids and deep data with validation_failed", async () => {
    const user = uniqueUser("rpc");
    const socket = await connectAs(user);
    try {
      const cases = [
        () => service.sendNotificationToUser(user, { title: "a\u0000b", message: "m" }),
        () =>
          service.sendNotificationToUser(user, { title: "t", message: "m", data: { x: "\ud800" } }),
        () => service.sendNotificationToUser(user, { title: "t", message: "m", data: nested(33) }),
        () => service.sendMessageToUser(user, { fromUserId: 2 ** 53, message: "m" }),
        () => service.sendNotificationToUser(2 ** 53 + 2, { title: "t", message: "m" }),
        () => service.broadcastSystemMessage({ message: "\udc00" }),
      ];
      for (const call of cases) {
        expect(await refusal(call())).toMatchObject({ code: "validation_failed", status: 400 });
      }
      const fine = await service.sendNotificationToUser(user, {
        title: "t",
        message: "m",
        data: nested(32),
      });
      expect(fine.delivered).toBe(true);
    } finally {
      socket.ws.close();
    }
  });
});
