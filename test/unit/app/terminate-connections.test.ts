import { describe, expect, it } from "vitest";
import { terminateConnections } from "../../../src/app/terminate-connections.ts";
import { addUser, FIXED_NOW, fakeApp } from "../helpers/fake-app.ts";

describe("terminating a user's connections", () => {
  it("asks the user's actor to close every socket and answers how many it closed", async () => {
    const app = fakeApp();
    addUser(app, "5", { sockets: 3, isOnline: true });
    const termination = { reason: "account revoked", blockUntil: FIXED_NOW + 60_000 };
    expect(await terminateConnections(app, "5", termination)).toEqual({ closed: 3 });
    expect(app.terminated).toEqual([{ userId: "5", termination }]);
  });

  it("refuses a block that already ended, without closing anything", async () => {
    const app = fakeApp();
    addUser(app, "5", { sockets: 2, isOnline: true });
    const termination = { reason: null, blockUntil: FIXED_NOW };
    await expect(terminateConnections(app, "5", termination)).rejects.toMatchObject({
      code: "validation_failed",
      details: { field: "block_until" },
    });
    expect(app.terminated).toEqual([]);
  });
});
