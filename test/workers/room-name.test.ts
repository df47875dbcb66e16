import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("RoomHub name", () => {
  it("the runtime gives a room actor its name", async () => {
    const stub = env.ROOM_HUB.getByName("room:team_x");
    const name = await runInDurableObject(stub, (_room, state) => state.id.name);
    expect(name).toBe("room:team_x");
  });
});
