/**
 * Text, ids and shapes against the running gateway: text Postgres cannot store, numeric ids
 * beyond 2^53 and deep `data` are refused at the door with `validation_failed`, over HTTP and
 * on sockets, and the socket stays open.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { eventually, sleep } from "../helpers/frames.ts";
import { TEST_API_KEY } from "../helpers/secrets.ts";
import { connectAs, gatewayUrl, uniqueUser } from "./helpers.ts";
import { api, type MirrorProbe, openMirrorProbe } from "./mirror-probe.ts";

let probe: MirrorProbe;

beforeAll(async () => {
  probe = await openMirrorProbe({
    databaseUrl: inject("databaseUrl"),
    redisUrl: inject("redisUrl"),
    redisKeyPrefix: inject("redisKeyPrefix"),
  });
});
afterAll(async () => {
  await probe?.close();
});

/** `{ k: { k: … { k: 1 } } }` with `levels` objects. */
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = { k: value };
  return value;
}

describe("text Postgres cannot store", () => {
  it("a notification with U+0000 in its title answers 400 validation_failed, and the next one reaches Postgres", async () => {
    const user = uniqueUser("nul");
    const socket = await connectAs(user);
    try {
      const refused = await api(gatewayUrl(), "POST", `/users/${user}/notifications`, {
        title: "before \u0000 after",
        message: "m",
      });
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatchObject({
        code: "validation_failed",
        details: { field: "title" },
      });
      const nested = await api(gatewayUrl(), "POST", `/users/${user}/notifications`, {
        title: "t",
        message: "m",
        data: { foo: { bar: "\u0000" } },
      });
      expect(nested.body.error).toMatchObject({ details: { field: "data.foo.bar" } });

      const sent = await api(gatewayUrl(), "POST", `/users/${user}/notifications`, {
        title: "fine",
        message: "m",
      });
      expect(sent.status).toBe(200);
      const pushed = await socket.frames.next("notification");
      expect(pushed.data.title).toBe("fine");
      // Nothing refused was queued for Postgres, so nothing holds this one back.
      await eventually(async () => {
        const rows = await probe.sql<{ id: string }>(
          "select id from notifications where user_id = $1",
          [user],
        );
        expect(rows.map((row) => row.id)).toEqual([sent.body.notification_id]);
        return true;
      }, 10_000);
    } finally {
      await socket.close();
    }
  });

  it("send_message with a lone surrogate answers validation_failed and the socket stays open", async () => {
    const alice = await connectAs(uniqueUser("alice"));
    const bobId = uniqueUser("bob");
    const bob = await connectAs(bobId);
    try {
      // Written by hand: `\ud800` is valid JSON and arrives as a lone surrogate.
      alice.send(
        `{"type":"send_message","id":"bad","data":{"target_user_id":"${bobId}","message":"x\\ud800"}}`,
      );
      const error = await alice.frames.next((frame) => frame.id === "bad");
      expect(error.type).toBe("error");
      expect(error.data).toMatchObject({
        code: "validation_failed",
        details: { field: "data.message" },
      });
      const sent = await alice.request("send_message", { target_user_id: bobId, message: "ok" });
      expect(sent.type).toBe("message_sent");
      expect((await bob.frames.next("user_message")).data.message).toBe("ok");
      expect(alice.frames.closed).toBeNull();
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});

describe("numeric user ids", () => {
  it("9007199254740993 as a number is refused instead of reaching user 9007199254740992", async () => {
    const collided = await connectAs("9007199254740992");
    const alice = await connectAs(uniqueUser("alice"));
    try {
      alice.send(
        '{"type":"send_message","id":"big","data":{"target_user_id":9007199254740993,"message":"hi"}}',
      );
      const answer = await alice.frames.next((frame) => frame.id === "big");
      expect(answer.data).toMatchObject({
        code: "validation_failed",
        details: { field: "data.target_user_id" },
      });
      await sleep(300);
      expect(collided.frames.received.filter((frame) => frame.type === "user_message")).toEqual([]);

      const http = await fetch(`${gatewayUrl()}/api/v1/users/9007199254740992/messages`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${TEST_API_KEY}`,
          "Content-Type": "application/json",
        },
        body: '{"from_user_id":9007199254740993,"message":"hi"}',
      });
      expect(http.status).toBe(400);
      expect(((await http.json()) as any).error.details).toEqual({ field: "from_user_id" });
    } finally {
      await alice.close();
      await collided.close();
    }
  });
});

describe("nesting", () => {
  it("data nested 33 levels answers 400 validation_failed, deeper ones too (never internal)", async () => {
    const user = uniqueUser("deep");
    const socket = await connectAs(user);
    try {
      for (const levels of [33, 2_000]) {
        const response = await api(gatewayUrl(), "POST", `/users/${user}/notifications`, {
          title: "t",
          message: "m",
          data: nested(levels),
        });
        expect(response.status, `${levels} levels`).toBe(400);
        expect(response.body.error.code).toBe("validation_failed");
      }
      const ok = await api(gatewayUrl(), "POST", `/users/${user}/notifications`, {
        title: "t",
        message: "m",
        data: nested(32),
      });
      expect(ok.status).toBe(200);
    } finally {
      await socket.close();
    }
  });
});
