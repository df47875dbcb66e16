/**
 * `DELETE /api/v1/users/{id}/connections` against the real gateway: every socket of the user
 * (two user sockets and a consultation socket held by a RoomHub) closes with 4003
 * `terminated` after an `error` frame with the operator's reason; with `block_until` the
 * user's upgrades answer 403 until then, and succeed after.
 */
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { ErrorBodySchema } from "../../src/http/api/schemas.ts";
import { eventually, sleep } from "../helpers/frames.ts";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { mintToken } from "../helpers/tokens.ts";
import { connectAs, gatewayUrl, UpgradeRefused, uniqueUser } from "./helpers.ts";

async function terminate(userId: string, body?: unknown, auth: string | null = TEST_API_KEY) {
  const headers = new Headers();
  if (auth !== null) headers.set("Authorization", `Bearer ${auth}`);
  if (body !== undefined) headers.set("Content-Type", "application/json");
  const response = await fetch(`${gatewayUrl()}/api/v1/users/${userId}/connections`, {
    method: "DELETE",
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

/** The refusal of an upgrade, as a typed error body. */
async function refusedUpgrade(open: Promise<unknown>) {
  const err = await open.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UpgradeRefused);
  const refused = err as UpgradeRefused;
  return {
    status: refused.status,
    error: v.parse(ErrorBodySchema, JSON.parse(refused.body)).error,
  };
}

const consultation = (id: string) => ({ path: `/ws/consultation/${id}/` });

/**
 * A socket that spoke first, as real clients do: workerd completes a close the server starts on
 * a hibernatable socket that never received a data frame only when the actor goes idle
 * (docs/design.md, "Server-initiated close"; test/e2e/close.test.ts).
 */
async function speaking<T extends { send(frame: unknown): void }>(socket: Promise<T>): Promise<T> {
  const opened = await socket;
  opened.send({ type: "ping" });
  return opened;
}

describe("terminating a user's connections", () => {
  it("closes the user's sockets, consultation and room sockets with 4003 terminated", async () => {
    const user = uniqueUser("term");
    const room = uniqueUser("room");
    const group = `group_${room}`;
    const grants = { groups: [`consultation_${room}`, group] };
    const tabs = [await speaking(connectAs(user)), await speaking(connectAs(user))];
    const consult = await speaking(connectAs(user, grants, consultation(room)));
    const roomSocket = await speaking(connectAs(user, grants, { path: `/ws/group/${group}/` }));
    const bystander = await connectAs(uniqueUser("other"));

    const answer = await terminate(user, { reason: "account revoked" });
    expect(answer).toEqual({ status: 200, json: { closed: 4 } });

    for (const socket of [...tabs, consult, roomSocket]) {
      const error = await socket.frames.next("error");
      expect(error.data).toMatchObject({
        code: "forbidden",
        message: "account revoked",
        details: { reason: "terminated" },
      });
      expect(await socket.frames.waitClosed()).toEqual({ code: 4003, reason: "terminated" });
    }
    // Only this user: another user's socket stays open and answers.
    expect((await bystander.request("ping")).type).toBe("pong");
    await eventually(async () => {
      const status = await fetch(`${gatewayUrl()}/api/v1/users/${user}/status`, {
        headers: { Authorization: `Bearer ${TEST_API_KEY}` },
      }).then((r) => r.json() as Promise<{ connection_count: number }>);
      return status.connection_count === 0;
    });
    // Without a block the user may come back at once.
    const again = await connectAs(user);
    expect(again.established.data).toMatchObject({ connection_count: 1 });
    await again.close();
    await bystander.close();
  });

  it("refuses the user's upgrades with 403 until block_until, then lets them in", async () => {
    const user = uniqueUser("blocked");
    const room = uniqueUser("room");
    const grants = { groups: [`consultation_${room}`] };
    const socket = await speaking(connectAs(user));
    const until = new Date(Date.now() + 4_000);

    const answer = await terminate(user, { block_until: until.toISOString() });
    expect(answer).toEqual({ status: 200, json: { closed: 1 } });
    expect(await socket.frames.waitClosed()).toEqual({ code: 4003, reason: "terminated" });

    const userRefusal = await refusedUpgrade(connectAs(user));
    expect(userRefusal.status).toBe(403);
    expect(userRefusal.error).toMatchObject({
      code: "forbidden",
      details: { reason: "blocked", blocked_until: until.toISOString() },
    });
    const roomRefusal = await refusedUpgrade(connectAs(user, grants, consultation(room)));
    expect(roomRefusal.status).toBe(403);
    expect(roomRefusal.error.details).toMatchObject({ reason: "blocked" });
    // Another user is not affected.
    await (await connectAs(uniqueUser("free"))).close();

    await sleep(until.getTime() - Date.now() + 200);
    const back = await connectAs(user);
    const backInRoom = await connectAs(user, grants, consultation(room));
    expect(backInRoom.established.data).toMatchObject({ connection_count: 2 });
    await backInRoom.close();
    await back.close();
  });

  it("answers { closed: 0 } without a body for a user with no socket", async () => {
    expect(await terminate(uniqueUser("nobody"))).toEqual({ status: 200, json: { closed: 0 } });
  });

  it("refuses bad bodies and callers with typed errors", async () => {
    const user = uniqueUser("bad");
    const cases: [unknown, string][] = [
      [{ reason: "" }, "reason"],
      [{ reason: "x".repeat(257) }, "reason"],
      [{ reason: "nul\u0000" }, "reason"],
      [{ block_until: "tomorrow" }, "block_until"],
      [{ block_until: 1_900_000_000 }, "block_until"],
      [{ block_until: "2020-01-01T00:00:00Z" }, "block_until"],
    ];
    for (const [body, field] of cases) {
      const answer = await terminate(user, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.json.error).toMatchObject({ code: "validation_failed", details: { field } });
    }
    expect((await terminate(user, undefined, null)).status).toBe(401);
    const plainUser = await mintToken(uniqueUser("plain"));
    expect((await terminate(user, undefined, plainUser)).status).toBe(403);
    const staff = await mintToken(uniqueUser("staff"), { staff: true });
    expect(await terminate(user, {}, staff)).toEqual({ status: 200, json: { closed: 0 } });
  });
});
