import { describe, expect, it } from "vitest";
import { connectAs, uniqueUser } from "./helpers.ts";

describe("direct messages end to end", () => {
  it("reach every tab of the target once and tell the sender how many", async () => {
    const [ann, bob] = [uniqueUser("ann"), uniqueUser("bob")];
    const annFirst = await connectAs(ann, { username: "ann" });
    const annSecond = await connectAs(ann, { username: "ann" });
    const annTabs = [annFirst, annSecond];
    const bobTabs = [await connectAs(bob), await connectAs(bob)];
    const sent = await annFirst.request("send_message", { target_user_id: bob, message: "hi" });
    expect(sent).toMatchObject({
      type: "message_sent",
      data: { target_user_id: bob, recipients: 2, delivered: true },
    });
    for (const tab of bobTabs) {
      const got = await tab.frames.next("user_message");
      expect(got.data).toMatchObject({
        message_id: sent.data.message_id,
        from_user_id: ann,
        message: "hi",
      });
      await tab.request("ping");
      expect(tab.frames.unconsumed("user_message")).toEqual([]);
    }
    expect(annSecond.frames.unconsumed("user_message")).toEqual([]);
    const missing = await annFirst.request("send_message", {
      target_user_id: "nobody-ever",
      message: "x",
    });
    expect(missing.data.code).toBe("user_not_found");
    await Promise.all([...annTabs, ...bobTabs].map((c) => c.close()));
  });

  it("resume after a dropped socket replays exactly the missed messages, in order", async () => {
    const [ann, bob] = [uniqueUser("ann"), uniqueUser("bob")];
    const sender = await connectAs(ann);
    let bobTab = await connectAs(bob);
    await sender.request("send_message", { target_user_id: bob, message: "before" });
    const seen = await bobTab.frames.next("user_message");
    bobTab.ws.terminate(); // a dropped connection, no close handshake
    for (const text of ["one", "two", "three"]) {
      await sender.request("send_message", { target_user_id: bob, message: text });
    }
    bobTab = await connectAs(bob);
    expect(bobTab.established.data.last_seq).toBe((seen.seq ?? 0) + 3);
    const done = await bobTab.request("resume", { since_seq: seen.seq });
    expect(done.type).toBe("resumed");
    const replayed = bobTab.frames.received.filter((f) => f.type === "user_message");
    expect(replayed.map((f) => f.data.message)).toEqual(["one", "two", "three"]);
    expect(replayed.map((f) => f.seq)).toEqual([2, 3, 4].map((n) => n + (seen.seq ?? 1) - 1));
    expect(done.data).toMatchObject({ complete: true, to_seq: replayed.at(-1)?.seq });
    await Promise.all([sender.close(), bobTab.close()]);
  });

  it("rate-limits a flood of direct messages with retry_after_ms", async () => {
    const [ann, bob] = [uniqueUser("ann"), uniqueUser("bob")];
    const sender = await connectAs(ann);
    await (await connectAs(bob)).close();
    for (let i = 0; i < 60; i++)
      sender.send({ type: "send_message", data: { target_user_id: bob, message: `m${i}` } });
    const limited = await sender.frames.next(
      (f) => f.type === "error" && f.data.code === "rate_limited",
    );
    expect(limited.data.retry_after_ms).toBeGreaterThan(0);
    await sender.close();
  });
});
