import { describe, expect, it } from "vitest";
import { createRealtime, RealtimeApiError } from "../../../src/sdk/server.ts";

/** A server SDK whose fetch records the URLs it was asked for and answers a status. */
function recorded() {
  const urls: string[] = [];
  const realtime = createRealtime({
    baseUrl: "https://gateway.test",
    apiKey: "k",
    fetch: async (url) => {
      urls.push(url);
      const status = { user_id: "x", is_online: false, connection_count: 0, last_seen: null };
      return new Response(JSON.stringify(status), {
        headers: { "Content-Type": "application/json" },
      });
    },
  });
  return { realtime, urls };
}

describe("server SDK user ids", () => {
  it("sends a safe integer id as its digits", async () => {
    const { realtime, urls } = recorded();
    await realtime.online.getUserStatus(Number.MAX_SAFE_INTEGER);
    expect(urls).toEqual(["https://gateway.test/api/v1/users/9007199254740991/status"]);
  });

  it("refuses a number beyond 2^53 - 1 with validation_failed and sends nothing", async () => {
    const { realtime, urls } = recorded();
    const refused = await realtime.messaging
      .sendNotificationToUser(2 ** 53, { title: "t", message: "m" })
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(RealtimeApiError);
    expect(refused).toMatchObject({ code: "validation_failed", status: 400 });
    expect(urls).toEqual([]);
  });
});
