/**
 * A RoomHub knows which group it is from the runtime (`ctx.id.name`), not from a name stored
 * at its first call: also when only its alarm wakes it after an eviction.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { connectAs, uniqueUser } from "./helpers.ts";

describe("a RoomHub's name", () => {
  it("is given by the runtime for a getByName id", async () => {
    const stub = env.ROOM_HUB.getByName("room:team_named");
    const name = await runInDurableObject(stub, (_room, state) => state.id.name);
    expect(name).toBe("room:team_named");
  });

  it("is known to the reconciliation run by the alarm after an eviction: live members stay", async () => {
    const group = `team_${uniqueUser("r")}`;
    const user = uniqueUser();
    const socket = await connectAs(user, { groups: [group] });
    socket.send({ type: "join_group", id: "j", data: { group_name: group } });
    expect((await socket.frames.next((f) => f.id === "j")).type).toBe("group_joined");
    const room = env.ROOM_HUB.getByName(`room:${group}`);
    expect(await room.memberCount()).toBe(1);
    // Make the reconciliation due now; the room asks the member's UserHub which of its sockets
    // joined the group by the room's name, so a room that lost its name would drop the member.
    await runInDurableObject(room, async (_room, state) => {
      await state.storage.put("reconcile_at", Date.now() - 1);
    });
    await evictDurableObject(room);
    expect(await runDurableObjectAlarm(room)).toBe(true);
    expect(await room.memberCount()).toBe(1);
  });
});
