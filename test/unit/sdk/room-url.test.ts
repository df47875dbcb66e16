import { describe, expect, it } from "vitest";
import { roomUrl } from "../../../src/sdk/client.ts";

describe("roomUrl", () => {
  it("puts the room socket beside the user socket of the same gateway", () => {
    expect(roomUrl("wss://rt.example.com/ws/user/", "team_a")).toBe(
      "wss://rt.example.com/ws/group/team_a/",
    );
    expect(roomUrl("ws://127.0.0.1:8787/ws/user", "group_b")).toBe(
      "ws://127.0.0.1:8787/ws/group/group_b/",
    );
  });

  it("keeps a path the gateway is mounted under and drops the query", () => {
    expect(roomUrl("wss://example.com/realtime/ws/user/?token=x", "team_a")).toBe(
      "wss://example.com/realtime/ws/group/team_a/",
    );
  });

  it("works from a consultation or another room socket too", () => {
    expect(roomUrl("wss://rt.example.com/ws/consultation/7/", "team_a")).toBe(
      "wss://rt.example.com/ws/group/team_a/",
    );
    expect(roomUrl("wss://rt.example.com/ws/group/team_a/", "team_b")).toBe(
      "wss://rt.example.com/ws/group/team_b/",
    );
  });

  it("escapes what a path segment cannot hold", () => {
    expect(roomUrl("wss://rt.example.com/ws/user/", "team_a b")).toBe(
      "wss://rt.example.com/ws/group/team_a%20b/",
    );
  });
});
