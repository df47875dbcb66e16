/**
 * Terminating a user's connections through the RealtimeService entrypoint, inside workerd
 * against the real actors: the user's sockets and the consultation socket held by a RoomHub
 * close with 4003 `terminated`, and the block refuses new sockets of both kinds with 403.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { RealtimeApiError } from "../../src/sdk/errors.ts";
import { mintToken } from "../helpers/tokens.ts";
import { connectAs, uniqueUser, upgrade, wrapSocket } from "./helpers.ts";

const service = exports.RealtimeService;

async function consultationSocket(user: string, room: string) {
  const token = await mintToken(user, { groups: [`consultation_${room}`] });
  const response = await upgrade(`/ws/consultation/${room}/?token=${token}`);
  if (response.webSocket === null) return { status: response.status, socket: null };
  const socket = wrapSocket(response.webSocket);
  await socket.established;
  return { status: response.status, socket };
}

async function refusal(call: Promise<unknown>): Promise<RealtimeApiError> {
  const err = await call.then(
    () => null,
    (e: unknown) => e,
  );
  const error = RealtimeApiError.from(err);
  if (error === null) throw new Error(`not a refusal: ${String(err)}`);
  return error;
}

describe("RealtimeService.terminateUserConnections", () => {
  it("closes every socket of the user, leased ones included, and blocks new ones", async () => {
    const user = uniqueUser("rpc-term");
    const room = uniqueUser("room");
    const tabs = [await connectAs(user), await connectAs(user)];
    const { socket: consult } = await consultationSocket(user, room);
    const other = await connectAs(uniqueUser("rpc-other"));

    const result = await service.terminateUserConnections(user, {
      reason: "account revoked",
      blockUntil: new Date(Date.now() + 60_000),
    });
    expect(result).toEqual({ closed: 3 });
    for (const socket of [...tabs, consult]) {
      expect((await socket?.frames.next("error"))?.data).toMatchObject({
        code: "forbidden",
        message: "account revoked",
        details: { reason: "terminated" },
      });
      expect(await socket?.frames.waitClosed()).toEqual({ code: 4003, reason: "terminated" });
    }
    expect(await service.getUserConnectionCount(user)).toBe(0);
    expect(other.frames.closed).toBeNull();

    const token = await mintToken(user);
    const refused = await upgrade(`/ws/user/?token=${token}`);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({
      error: { code: "forbidden", details: { reason: "blocked" } },
    });
    expect((await consultationSocket(user, room)).status).toBe(403);
  });

  it("refuses a block in the past and a bad reason with validation_failed", async () => {
    const user = uniqueUser("rpc-bad");
    const past = await refusal(
      service.terminateUserConnections(user, { blockUntil: new Date(Date.now() - 1_000) }),
    );
    // Workers RPC carries an error's code and message, not its details.
    expect(past).toMatchObject({
      code: "validation_failed",
      message: "block_until: must be in the future",
    });
    const empty = await refusal(service.terminateUserConnections(user, { reason: "" }));
    expect(empty).toMatchObject({
      code: "validation_failed",
      message: "reason: must not be empty",
    });
    expect(await service.terminateUserConnections(user)).toEqual({ closed: 0 });
  });
});
