import { describe, expect, it } from "vitest";
import { roomUrl } from "../../../src/sdk/client.ts";

describe("roomUrl", () => {
  it.each([
    ["a user socket", "wss://rt.example.com/ws/user/", "wss://rt.example.com/ws/group/team_a/"],
    [
      "one without the slash",
      "ws://127.0.0.1:8787/ws/user",
      "ws://127.0.0.1:8787/ws/group/team_a/",
    ],
    [
      "a gateway mounted under a path, dropping the query",
      "wss://example.com/realtime/ws/user/?token=x",
      "wss://example.com/realtime/ws/group/team_a/",
    ],
    [
      "a consultation socket",
      "wss://rt.example.com/ws/consultation/7/",
      "wss://rt.example.com/ws/group/team_a/",
    ],
    [
      "another room socket",
      "wss://rt.example.com/ws/group/team_b/",
      "wss://rt.example.com/ws/group/team_a/",
    ],
  ])("puts the room socket beside %s of the same gateway", (_what, socketUrl, expected) => {
    expect(roomUrl(socketUrl, "team_a")).toBe(expected);
  });

  it("escapes what a path segment cannot hold", () => {
    expect(roomUrl("wss://rt.example.com/ws/user/", "team_a b")).toBe(
      "wss://rt.example.com/ws/group/team_a%20b/",
    );
  });
});
