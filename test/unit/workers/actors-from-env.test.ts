/**
 * The one mapping of actor failures (src/workers/actors-from-env.ts): what a caller sees when a
 * stub call fails, the same on a socket as over HTTP.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/core/config.ts";
import { GatewayError } from "../../../src/protocol/errors.ts";
import { actorFailure } from "../../../src/workers/actors-from-env.ts";
import { userHoldingActor } from "../../../src/workers/user-holding-actor.ts";
import { TEST_JWT_SECRET } from "../../helpers/secrets.ts";

describe("failed actor calls", () => {
  it("keep the code of a coded message, which is all Workers RPC carries", () => {
    const failure = actorFailure(
      new Error("[gateway:unavailable] cannot tell whether the user exists"),
    );
    expect(failure).toBeInstanceOf(GatewayError);
    expect(failure).toMatchObject({
      code: "unavailable",
      message: "cannot tell whether the user exists",
    });
  });

  it("turn an overloaded or retryable Durable Object into 503 unavailable", () => {
    for (const flag of ["overloaded", "retryable"]) {
      const err = Object.assign(new Error("Durable Object reset"), { [flag]: true });
      expect(actorFailure(err)).toMatchObject({ code: "unavailable" });
    }
  });

  it("pass anything else through unchanged", () => {
    const err = new Error("boom");
    expect(actorFailure(err)).toBe(err);
    expect(actorFailure(new Error("[418 teapot] unknown code"))).toBeInstanceOf(Error);
    expect(actorFailure(new Error("[418 teapot] unknown code"))).not.toBeInstanceOf(GatewayError);
  });
});

describe("a socket's commands", () => {
  /** The UserHub, as its sockets' handlers reach it, over an env whose every RoomHub and UserHub is overloaded. */
  function hostOverOverloadedActors() {
    const overloaded = () =>
      Promise.reject(
        Object.assign(new Error("Durable Object is overloaded"), { overloaded: true }),
      );
    const stub = { publish: overloaded, join: overloaded, deliver: overloaded, status: overloaded };
    const env = {
      ROOM_HUB: { getByName: () => stub },
      USER_HUB: { getByName: () => stub },
    };
    const config = parseConfig({ JWT_SECRET: TEST_JWT_SECRET });
    // Only the env's stubs and the config are reached by the calls below.
    const parts = { env, config, connections: { presence: { profile: async () => null } } };
    return userHoldingActor(parts as unknown as Parameters<typeof userHoldingActor>[0]);
  }

  it("answer unavailable with a retry delay when the room's actor is overloaded, as HTTP does", async () => {
    const host = hostOverOverloadedActors();
    const message = {
      type: "group_message" as const,
      messageId: "m1",
      fromUserId: "1",
      messageType: "t",
      data: {},
      sentAt: "",
    };
    const refused = await host.actors
      .room("group_a")
      ?.publish(message)
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(GatewayError);
    expect(refused).toMatchObject({ code: "unavailable", retryAfterMs: 1_000 });
  });

  it("answer unavailable when the target user's actor is overloaded", async () => {
    const host = hostOverOverloadedActors();
    await expect(host.actors.user("2").status()).rejects.toMatchObject({ code: "unavailable" });
    await expect(host.actors.room("group_a")?.join("1", "c1")).rejects.toMatchObject({
      code: "unavailable",
    });
  });
});
