import { describe, expect, it } from "vitest";
import {
  boundGrants,
  type Connection,
  newConnection,
  parseConnection,
} from "../../../src/core/connection.ts";

const fields = {
  connectionId: "c-1",
  userId: "42",
  username: "alice",
  isStaff: false,
  isSuperuser: true,
  grants: ["consultation_*", "group_a"],
  expiresAt: 1_800_000_000,
  connectedAt: 1_790_000_000_000,
};

describe("newConnection", () => {
  it("stamps the attachment version and starts without groups", () => {
    expect(newConnection(fields)).toEqual({ v: 1, ...fields, groups: [], subscribed: [] });
  });

  it("bounds the grants it stores", () => {
    const grants = Array.from({ length: 100 }, (_, i) => `group_${i}`);
    expect(newConnection({ ...fields, grants }).grants).toHaveLength(64);
  });
});

describe("parseConnection", () => {
  it("reads back an attachment after a structured clone, as hibernation does", () => {
    const connection: Connection = { ...newConnection(fields), groups: ["group_a"] };
    expect(parseConnection(structuredClone(connection))).toEqual(connection);
  });

  it("reads an attachment from before subscribed existed, with no subscribed groups", () => {
    const { subscribed: _, ...older } = { ...newConnection(fields), groups: ["group_a"] };
    expect(parseConnection(structuredClone(older))?.subscribed).toEqual([]);
  });

  it.each([
    ["undefined", undefined],
    ["null", null],
    ["a string", "c-1"],
    ["a number", 1],
    ["an array", []],
    ["an empty object", {}],
  ])("returns null for %s", (_label, attachment) => {
    expect(parseConnection(attachment)).toBeNull();
  });

  it.each([0, 2, "1", undefined])("returns null for attachment version %j", (version) => {
    expect(parseConnection({ ...newConnection(fields), v: version })).toBeNull();
  });

  it.each<[string, unknown]>([
    ["userId", 42],
    ["isStaff", "true"],
    ["grants", "group_a"],
    ["groups", [1]],
    ["expiresAt", "soon"],
    ["connectedAt", null],
  ])("returns null when %s has the wrong type", (key, value) => {
    expect(parseConnection({ ...newConnection(fields), [key]: value })).toBeNull();
  });

  it("returns null when a field is missing", () => {
    const { connectionId: _dropped, ...rest } = newConnection(fields);
    expect(parseConnection(rest)).toBeNull();
  });

  it("drops keys the format does not know", () => {
    expect(parseConnection({ ...newConnection(fields), injected: "x" })).not.toHaveProperty(
      "injected",
    );
  });
});

describe("boundGrants", () => {
  it("keeps at most 64 grants, in order", () => {
    const grants = Array.from({ length: 65 }, (_, i) => `g${i}`);
    const bounded = boundGrants(grants);
    expect(bounded).toHaveLength(64);
    expect(bounded[0]).toBe("g0");
    expect(bounded[63]).toBe("g63");
  });

  it("drops grants longer than 128 characters and keeps those of 128", () => {
    expect(boundGrants(["a".repeat(129), "b".repeat(128), "group_x"])).toEqual([
      "b".repeat(128),
      "group_x",
    ]);
  });

  it("drops long grants before counting, so they do not use up the 64 places", () => {
    const grants = [
      ...Array.from({ length: 10 }, () => "x".repeat(200)),
      ...Array.from({ length: 64 }, (_, i) => `g${i}`),
    ];
    expect(boundGrants(grants)).toHaveLength(64);
  });

  it("keeps a bounded attachment well under the 16 KiB limit", () => {
    const grants = Array.from({ length: 500 }, (_, i) => `${i}`.padEnd(128, "g"));
    const connection = newConnection({ ...fields, grants });
    expect(JSON.stringify(connection).length).toBeLessThan(16_384);
  });
});
