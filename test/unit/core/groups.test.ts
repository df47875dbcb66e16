import { describe, expect, it } from "vitest";
import {
  consultationGroup,
  consultationIdOf,
  globMatches,
  globStars,
  groupOfRoomActor,
  type JoinRights,
  MAX_GLOB_STARS,
  mayJoin,
  validateGroupName,
} from "../../../src/core/groups.ts";
import { GatewayError } from "../../../src/protocol/errors.ts";

const PREFIXES = { groupPrefixes: ["consultation_", "group_", "team_"] };
const UUID = "3f2c5e1a-9b7d-4c1e-8a6f-0d2b4e6c8a10";

/** The GatewayError `run` throws, or a failure when it throws none or another kind. */
function thrown(run: () => unknown): GatewayError {
  try {
    run();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error("expected a GatewayError, nothing was thrown");
}

describe("validateGroupName", () => {
  it.each(["group_a", "team_x.y:z-1", "consultation_7", "group_"])("accepts %s", (name) => {
    expect(validateGroupName(name, PREFIXES)).toBe(name);
  });

  it("accepts a name of exactly 128 characters", () => {
    const name = `group_${"a".repeat(122)}`;
    expect(validateGroupName(name, PREFIXES)).toBe(name);
  });

  it("refuses a name of 129 characters with invalid_group", () => {
    expect(thrown(() => validateGroupName(`group_${"a".repeat(123)}`, PREFIXES)).code).toBe(
      "invalid_group",
    );
  });

  it.each([
    ["an empty name", ""],
    ["a space", "group_a b"],
    ["a slash", "group_a/b"],
    ["a non-ASCII letter", "group_é"],
    ["a wildcard", "group_*"],
  ])("refuses %s with invalid_group", (_what, name) => {
    expect(thrown(() => validateGroupName(name, PREFIXES)).code).toBe("invalid_group");
  });

  it("refuses a name without an allowed prefix and names the prefixes", () => {
    const error = thrown(() => validateGroupName("room_a", PREFIXES));
    expect(error.code).toBe("invalid_group");
    expect(error.details).toEqual({ group_name: "room_a", prefixes: PREFIXES.groupPrefixes });
  });

  it("compares prefixes case-sensitively", () => {
    expect(thrown(() => validateGroupName("Group_a", PREFIXES)).code).toBe("invalid_group");
  });

  it("takes its prefixes from the configuration", () => {
    expect(validateGroupName("room_a", { groupPrefixes: ["room_"] })).toBe("room_a");
    expect(thrown(() => validateGroupName("group_a", { groupPrefixes: ["room_"] })).code).toBe(
      "invalid_group",
    );
  });
});

describe("consultationGroup", () => {
  it.each([
    ["7", "consultation_7"],
    [UUID, `consultation_${UUID}`],
    ["a_B-9", "consultation_a_B-9"],
  ])("names the room of consultation %s", (id, room) => {
    expect(consultationGroup(id)).toBe(room);
  });

  it("accepts an id of exactly 100 characters", () => {
    expect(consultationGroup("x".repeat(100))).toBe(`consultation_${"x".repeat(100)}`);
  });

  it.each([
    ["an empty id", ""],
    ["101 characters", "x".repeat(101)],
    ["a dot", "7.1"],
    ["a colon", "a:b"],
    ["a slash", "7/8"],
  ])("refuses %s with invalid_group", (_what, id) => {
    expect(thrown(() => consultationGroup(id)).code).toBe("invalid_group");
  });

  it("gives a room name that passes validateGroupName with the default prefixes", () => {
    const room = consultationGroup("x".repeat(100));
    expect(validateGroupName(room, PREFIXES)).toBe(room);
  });
});

describe("consultationIdOf", () => {
  it("answers the id of a consultation room", () => {
    expect(consultationIdOf("consultation_7")).toBe("7");
    expect(consultationIdOf(`consultation_${UUID}`)).toBe(UUID);
  });

  it("round-trips consultationGroup", () => {
    for (const id of ["1", UUID, "x".repeat(100)]) {
      expect(consultationIdOf(consultationGroup(id))).toBe(id);
    }
  });

  it.each([
    ["another prefix", "group_7"],
    ["the bare prefix", "consultation_"],
    ["an id with a dot", "consultation_7.1"],
    ["an id over 100 characters", `consultation_${"x".repeat(101)}`],
    ["the prefix not at the start", "group_consultation_7"],
  ])("answers null for %s", (_what, name) => {
    expect(consultationIdOf(name)).toBeNull();
  });
});

describe("groupOfRoomActor", () => {
  it("answers the group of a RoomHub from its actor name", () => {
    expect(groupOfRoomActor("room:team_a")).toBe("team_a");
    expect(groupOfRoomActor("room:room:x")).toBe("room:x");
  });

  it("answers a name without the prefix unchanged", () => {
    expect(groupOfRoomActor("team_a")).toBe("team_a");
  });
});

describe("globMatches", () => {
  it("compares a pattern without wildcards exactly", () => {
    expect(globMatches("group_a", "group_a")).toBe(true);
    expect(globMatches("group_a", "group_ab")).toBe(false);
    expect(globMatches("group_a.b", "group_a.b")).toBe(true);
    expect(globMatches("group_a.b", "group_aXb")).toBe(false);
  });

  it("lets * match any run of characters, including none", () => {
    expect(globMatches("consultation_*", "consultation_7")).toBe(true);
    expect(globMatches("consultation_*", `consultation_${UUID}`)).toBe(true);
    expect(globMatches("consultation_*", "consultation_")).toBe(true);
    expect(globMatches("*_admins", "team_admins")).toBe(true);
    expect(globMatches("*", "anything_at:all")).toBe(true);
  });

  it("anchors the pattern at both ends", () => {
    expect(globMatches("consultation_*", "group_consultation_7")).toBe(false);
    expect(globMatches("*_a", "group_ab")).toBe(false);
  });

  it("lets ? match exactly one character", () => {
    expect(globMatches("group_?", "group_a")).toBe(true);
    expect(globMatches("group_?", "group_")).toBe(false);
    expect(globMatches("group_?", "group_ab")).toBe(false);
    expect(globMatches("team_??_x", "team_12_x")).toBe(true);
  });

  it("treats regular-expression characters in a pattern with wildcards as literal", () => {
    expect(globMatches("group_a.b*", "group_a.b1")).toBe(true);
    expect(globMatches("group_a.b*", "group_aXb1")).toBe(false);
    expect(globMatches("group_a+*", "group_aa")).toBe(false);
    expect(globMatches("group_[ab]*", "group_a")).toBe(false);
    expect(globMatches("group_[ab]*", "group_[ab]1")).toBe(true);
    expect(globMatches("group_a|team_*", "team_x")).toBe(false);
    expect(globMatches("group_(a)?", "group_(a)1")).toBe(true);
    expect(globMatches("group_^$*", "group_^$")).toBe(true);
    expect(globMatches("group_\\d*", "group_1")).toBe(false);
    expect(globMatches("group_a{2}*", "group_aa")).toBe(false);
  });

  // Before: a regex built from the stars backtracked exponentially; this case ran for minutes.
  // After: about 0.1 ms (at most pattern × name = 30 × 128 comparisons).
  it("answers a 128-character name against 8 stars at once (no backtracking blow-up)", () => {
    const name = `group_${"a".repeat(122)}`;
    expect(globMatches("group_*a*a*a*a*a*a*a*a!", name)).toBe(false);
    expect(globMatches("group_*a*a*a*a*a*a*a*a", name)).toBe(true);
    expect(globStars("group_*a*a*a*a*a*a*a*a")).toBe(MAX_GLOB_STARS);
  });

  it("agrees with a regular-expression matcher on many generated patterns and names", () => {
    // A fixed-seed generator: the same cases on every run.
    let seed = 12345;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const pick = (alphabet: string, length: number) =>
      Array.from({ length }, () => alphabet[next(alphabet.length)]).join("");
    const reference = (pattern: string, name: string) =>
      new RegExp(
        `^${[...pattern].map((ch) => (ch === "*" ? ".*" : ch === "?" ? "." : ch)).join("")}$`,
      ).test(name);
    for (let i = 0; i < 5_000; i++) {
      const pattern = pick("ab*?", next(8));
      const name = pick("ab", next(10));
      expect(globMatches(pattern, name), `${pattern} vs ${name}`).toBe(reference(pattern, name));
    }
  });
});

describe("mayJoin", () => {
  const config = { publicGroupPrefixes: ["team_"] };
  const nobody: JoinRights = { isStaff: false, isSuperuser: false, grants: [] };

  it("lets staff and superusers join any group", () => {
    expect(mayJoin({ ...nobody, isStaff: true }, "group_secret", config)).toBe(true);
    expect(mayJoin({ ...nobody, isSuperuser: true }, "consultation_9", config)).toBe(true);
  });

  it("lets anyone join a group with a public prefix", () => {
    expect(mayJoin(nobody, "team_lobby", config)).toBe(true);
  });

  it("looks for a public prefix only at the start of the name", () => {
    expect(mayJoin(nobody, "group_team_lobby", config)).toBe(false);
  });

  it("lets a user join what the groups claim grants, exactly or by glob", () => {
    const rights = { ...nobody, grants: ["group_a", "consultation_*"] };
    expect(mayJoin(rights, "group_a", config)).toBe(true);
    expect(mayJoin(rights, "consultation_42", config)).toBe(true);
    expect(mayJoin(rights, "group_b", config)).toBe(false);
  });

  it("refuses a user without rights, grants or a public prefix", () => {
    expect(mayJoin(nobody, "group_a", config)).toBe(false);
    expect(mayJoin(nobody, "group_a", { publicGroupPrefixes: [] })).toBe(false);
  });

  it("does not let a grant with regular-expression characters match more than it says", () => {
    expect(mayJoin({ ...nobody, grants: ["group_a.b"] }, "group_aXb", config)).toBe(false);
    expect(mayJoin({ ...nobody, grants: ["group_.*"] }, "group_a", config)).toBe(false);
  });
});
