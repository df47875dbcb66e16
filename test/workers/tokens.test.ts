/**
 * Token kinds and rights inside workerd, through the Worker's real fetch handler: which tokens
 * open sockets, ALLOW_QUERY_TOKEN, and what a refresh_token does to groups already joined.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/http/app.ts";
import { appFromEnv } from "../../src/workers/actors-from-env.ts";
import { mintSubscriptionToken, mintToken, type TokenOptions } from "../helpers/tokens.ts";
import { connectAs, join, reply, uniqueUser, upgrade, wrapSocket } from "./helpers.ts";

/** A refresh token for the same user that expires later than the socket's current one. */
const later = (userId: string, options: TokenOptions = {}) =>
  mintToken(userId, { expiresIn: 7200, ...options });

async function consultationSocket(id: string, userId: string, options: TokenOptions) {
  const token = await mintToken(userId, options);
  const response = await upgrade(`/ws/consultation/${id}/?token=${token}`);
  if (response.status !== 101) throw new Error(`refused: ${response.status}`);
  const socket = wrapSocket(response.webSocket as WebSocket);
  await socket.established;
  return socket;
}

describe("which tokens open a socket", () => {
  it("answers a subscription token on /ws/user/ with 401 before the upgrade", async () => {
    const user = uniqueUser();
    const token = await mintSubscriptionToken(user, "group_a");
    const response = await upgrade(`/ws/user/?token=${token}`);
    expect(response.status).toBe(401);
    expect(response.webSocket).toBeNull();
    expect(await response.json()).toEqual({
      error: { code: "unauthorized", message: "subscription tokens cannot open connections" },
    });
  });

  it("answers a subscription token on a consultation socket with 401 too", async () => {
    const token = await mintSubscriptionToken(uniqueUser(), "consultation_9", {
      claims: { groups: ["consultation_*"] },
    });
    expect((await upgrade(`/ws/consultation/9/?token=${token}`)).status).toBe(401);
  });

  it("answers a grant with more than 8 * in one pattern with 401", async () => {
    const token = await mintToken(uniqueUser(), { groups: ["group_*a*b*c*d*e*f*g*h*"] });
    expect((await upgrade(`/ws/user/?token=${token}`)).status).toBe(401);
  });
});

describe("ALLOW_QUERY_TOKEN=false", () => {
  const app = createApp((runtimeEnv) => appFromEnv(runtimeEnv));
  const strictEnv = { ...env, ALLOW_QUERY_TOKEN: "false" };
  const open = (path: string, headers: Record<string, string>) =>
    app.fetch(
      new Request(`http://gateway.test${path}`, { headers: { Upgrade: "websocket", ...headers } }),
      strictEnv,
    );

  it("answers ?token= with 401 naming the subprotocol and header forms", async () => {
    const token = await mintToken(uniqueUser());
    const response = await open(`/ws/user/?token=${token}`, {});
    expect(response.status).toBe(401);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("unauthorized");
    expect(body.error.message).toContain("Sec-WebSocket-Protocol: bearer, <jwt>");
    expect(body.error.message).toContain("Authorization: Bearer <jwt>");
  });

  it("still opens sockets with the subprotocol or the Authorization header", async () => {
    const user = uniqueUser();
    const token = await mintToken(user);
    const forms: Record<string, string>[] = [
      { "Sec-WebSocket-Protocol": `bearer, ${token}` },
      { Authorization: `Bearer ${token}` },
    ];
    for (const headers of forms) {
      const response = await open("/ws/user/", headers);
      expect(response.status).toBe(101);
      const socket = wrapSocket(response.webSocket as WebSocket);
      expect((await socket.established).data.user_id).toBe(user);
      socket.ws.close(1000);
    }
  });
});

describe("refresh_token", () => {
  it("refuses a subscription token and a refresh token: unauthorized, the socket keeps its groups", async () => {
    const user = uniqueUser();
    const s = await connectAs(user, { groups: ["group_a"] });
    await join(s, "group_a");
    for (const token of [
      await mintSubscriptionToken(user, "group_a", { expiresIn: 7200 }),
      await later(user, { claims: { token_type: "refresh" } }),
    ]) {
      expect((await reply(s, "refresh_token", { token })).data.code).toBe("unauthorized");
    }
    expect((await reply(s, "get_status", {})).data.groups).toEqual(["group_a"]);
  });

  it("leaves the groups the new token no longer allows, with group_left reason forbidden", async () => {
    const user = uniqueUser();
    const kept = `group_${uniqueUser("k")}`;
    const lost = `group_${uniqueUser("l")}`;
    const s = await connectAs(user, { groups: [kept, lost] });
    const other = await connectAs(uniqueUser(), { groups: [lost] });
    await join(s, kept);
    await join(s, lost);
    await join(other, lost);

    const answer = await reply(s, "refresh_token", {
      token: await later(user, { groups: [kept] }),
    });
    expect(answer.type).toBe("token_refreshed");
    const left = s.frames.received.find((f) => f.type === "group_left");
    expect(left?.data).toEqual({ group_name: lost, member_count: 1, reason: "forbidden" });
    expect((await reply(s, "get_status", {})).data.groups).toEqual([kept]);

    // Out of the room too: the other member's messages no longer reach it.
    const sent = await reply(other, "group_message", { group_name: lost, message: "after" });
    expect(sent.data.recipients).toBe(1);
    expect((await reply(s, "group_message", { group_name: lost, message: "x" })).data.code).toBe(
      "not_in_group",
    );
    expect(s.frames.unconsumed("group_message")).toEqual([]);
  });

  it("takes away groups a demoted staff user joined, and keeps those joined by subscription", async () => {
    const user = uniqueUser();
    const staffTab = await connectAs(user, { staff: true });
    const plainTab = await connectAs(user);
    const secret = `group_${uniqueUser("s")}`;
    const subscribed = `group_${uniqueUser("sub")}`;
    await join(staffTab, secret);
    const grant = await mintSubscriptionToken(user, subscribed);
    expect((await join(plainTab, subscribed, { token: grant })).type).toBe("group_joined");

    for (const tab of [staffTab, plainTab]) {
      const answer = await reply(tab, "refresh_token", { token: await later(user) });
      expect(answer.type).toBe("token_refreshed");
    }
    const left = staffTab.frames.received.filter((f) => f.type === "group_left");
    expect(left.map((f) => f.data)).toEqual([
      { group_name: secret, member_count: 0, reason: "forbidden" },
    ]);
    expect((await reply(staffTab, "get_status", {})).data.groups).toEqual([]);
    expect(plainTab.frames.received.filter((f) => f.type === "group_left")).toEqual([]);
    expect((await reply(plainTab, "get_status", {})).data.groups).toEqual([subscribed]);
  });

  it("closes a consultation socket with 4003 when the new token no longer allows it", async () => {
    const id = uniqueUser("c");
    const user = uniqueUser("doc");
    const tab = await connectAs(user);
    const socket = await consultationSocket(id, user, { groups: [`consultation_${id}`] });
    await tab.frames.next((f) => f.type === "status_changed" && f.data.connection_count === 2);

    socket.send({ type: "refresh_token", data: { token: await later(user, { groups: [] }) } });
    expect((await socket.frames.next("error")).data.code).toBe("forbidden");
    expect(await socket.frames.waitClosed()).toEqual({
      code: 4003,
      reason: "consultation not allowed",
    });
    // Its lease ends with it: the user's count drops back to the one user socket.
    expect(
      (await tab.frames.next((f) => f.type === "status_changed" && f.data.connection_count === 1))
        .data.connection_count,
    ).toBe(1);
  });

  it("keeps a consultation socket open when the new token still allows it", async () => {
    const id = uniqueUser("c");
    const user = uniqueUser("doc");
    const grant = { groups: [`consultation_${id}`] };
    const socket = await consultationSocket(id, user, grant);
    const answer = await reply(socket, "refresh_token", { token: await later(user, grant) });
    expect(answer.type).toBe("token_refreshed");
    expect((await reply(socket, "ping", {})).type).toBe("pong");
  });
});
