import { describe, expect, it } from "vitest";
import { mintToken } from "../helpers/tokens.ts";
import { connectAs, openSocket, UpgradeRefused, uniqueUser } from "./helpers.ts";

describe("groups and consultations end to end", () => {
  it("join with a claim, send, leave, and nothing arrives after leaving", async () => {
    const group = `team_${uniqueUser("t")}`;
    const grant = { groups: ["team_*"] };
    const [a, b] = [
      await connectAs(uniqueUser("a"), grant),
      await connectAs(uniqueUser("b"), grant),
    ];
    expect((await a.request("join_group", { group_name: group })).data.member_count).toBe(1);
    expect((await b.request("join_group", { group_name: group })).data.member_count).toBe(2);
    const outsider = await connectAs(uniqueUser("c"));
    expect((await outsider.request("join_group", { group_name: group })).data.code).toBe(
      "forbidden",
    );
    expect((await outsider.request("join_group", { group_name: "nope_x" })).data.code).toBe(
      "invalid_group",
    );

    const sent = await a.request("group_message", { group_name: group, message: "hello" });
    expect(sent.data).toMatchObject({ group_name: group, recipients: 2 });
    expect((await b.frames.next("group_message")).data.message).toBe("hello");
    expect((await b.request("leave_group", { group_name: group })).data.member_count).toBe(1);
    await a.request("group_message", { group_name: group, message: "after" });
    await b.request("ping");
    expect(b.frames.unconsumed("group_message")).toEqual([]);
    await Promise.all([a.close(), b.close(), outsider.close()]);
  });

  it("a consultation socket needs the claim, counts as a connection, and shares messages with joined user sockets", async () => {
    const id = uniqueUser("c").replace(/[^A-Za-z0-9_-]/g, "");
    const grant = { groups: [`consultation_${id}`] };
    const [doctor, patient] = [uniqueUser("doc"), uniqueUser("pat")];
    try {
      await openSocket(await mintToken(patient, { groups: ["consultation_other"] }), {
        path: `/ws/consultation/${id}/`,
      });
      throw new Error("accepted");
    } catch (err) {
      expect(err).toBeInstanceOf(UpgradeRefused);
      expect((err as UpgradeRefused).status).toBe(403);
    }
    const doctorTab = await connectAs(doctor, grant);
    await doctorTab.request("join_group", { group_name: `consultation_${id}` });
    const room = await openSocket(await mintToken(patient, { ...grant, username: "pat" }), {
      path: `/ws/consultation/${id}`,
    });
    expect(room.established.data.connection_count).toBe(1);
    const state = await room.frames.next("consultation_state");
    expect(state.data.consultation_id).toBe(id);
    const sent = await room.request("consultation_message", { message: "I feel better" });
    expect(sent.data.recipients).toBe(2);
    const got = await doctorTab.frames.next("consultation_message");
    expect(got.data).toMatchObject({
      consultation_id: id,
      from_user_id: patient,
      from_username: "pat",
      message: "I feel better",
    });
    const status = await room.request("get_status");
    expect(status.data).toMatchObject({ user_id: patient, connection_count: 1 });
    await Promise.all([room.close(), doctorTab.close()]);
  });
});
