/**
 * Room presence in batches (docs/protocol.md, "Who receives status_changed"), with
 * ROOM_PRESENCE_MAX_MEMBERS = 3: per-user status_changed up to 3 members, counts above.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Frame } from "../helpers/frames.ts";
import { connectAs, type TestSocket, uniqueUser } from "./helpers.ts";

let seq = 0;
async function reply(socket: TestSocket, type: string, data: Record<string, unknown>) {
  const id = `p-${++seq}`;
  socket.send({ type, data, id });
  return socket.frames.next((f) => f.id === id);
}

const join = (socket: TestSocket, group: string) =>
  reply(socket, "join_group", { group_name: group });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("room presence", () => {
  it("flips of one window reach each member once, the member's own excluded", async () => {
    const group = `group_${uniqueUser("small")}`;
    const [stay, ann, bob] = [uniqueUser("stay"), uniqueUser("ann"), uniqueUser("bob")];
    const watcher = await connectAs(stay, { staff: true });
    const leaving = [await connectAs(ann, { staff: true }), await connectAs(bob, { staff: true })];
    for (const socket of [watcher, ...leaving]) await join(socket, group);

    for (const socket of leaving) socket.ws.close(1000);
    const offline = (userId: string) => (f: Frame) =>
      f.type === "status_changed" && f.data.user_id === userId && f.data.is_online === false;
    await watcher.frames.next(offline(ann));
    await watcher.frames.next(offline(bob));
    await sleep(400);
    await reply(watcher, "ping", {});
    const extra = watcher.frames
      .unconsumed()
      .filter((f) => f.type === "status_changed" || f.type === "room_presence");
    expect(extra).toEqual([]);
  });

  it("above ROOM_PRESENCE_MAX_MEMBERS members hear counts, not each user", async () => {
    const group = `group_${uniqueUser("large")}`;
    const watchers = [];
    for (let i = 0; i < 4; i++) watchers.push(await connectAs(uniqueUser("w"), { staff: true }));
    const leaving = [];
    for (let i = 0; i < 2; i++) leaving.push(await connectAs(uniqueUser("l"), { staff: true }));
    for (const socket of [...watchers, ...leaving]) await join(socket, group);

    for (const socket of leaving) socket.ws.close(1000);
    for (const watcher of watchers) {
      const frame = await watcher.frames.next(
        (f) => f.type === "room_presence" && f.data.online_count === 4,
      );
      expect(frame.data).toEqual({ group_name: group, online_count: 4 });
    }
    await sleep(400);
    for (const watcher of watchers) {
      await reply(watcher, "ping", {});
      const frames = watcher.frames.unconsumed();
      expect(
        frames.filter((f) => f.type === "status_changed" && f.data.is_online === false),
      ).toEqual([]);
      // At most once per window: both flips fell in one or two windows, never one frame per flip per member.
      expect(frames.filter((f) => f.type === "room_presence").length).toBeLessThanOrEqual(1);
    }
  });

  it("a flip announced to the room reaches its members once the window closes", async () => {
    const group = `group_${uniqueUser("alarm")}`;
    const watcher = await connectAs(uniqueUser("w"), { staff: true });
    await join(watcher, group);
    const room = env.ROOM_HUB.getByName(`room:${group}`);
    await room.announce(group, {
      user_id: "someone-else",
      is_online: true,
      connection_count: 1,
      last_seen: null,
    });
    const frame = await watcher.frames.next("status_changed");
    expect(frame.data.user_id).toBe("someone-else");
  });
});
