/**
 * Group names and who may join them (docs/protocol.md, "Groups"). In the original system anyone
 * could join any group with an allowed prefix; here joining needs one of: a matching entry in
 * the token's `groups` claim (exact or glob), a subscription token for that group, a public
 * prefix, or staff rights.
 */
import { GatewayError } from "../protocol/errors.ts";
import type { Config } from "./config.ts";

const GROUP_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
const CONSULTATION_ID = /^[A-Za-z0-9_-]{1,100}$/;
export const CONSULTATION_PREFIX = "consultation_";

/** A socket may be in at most this many groups (its attachment is limited to 16 KiB). */
export const MAX_GROUPS_PER_CONNECTION = 64;

export function validateGroupName(name: string, config: Pick<Config, "groupPrefixes">): string {
  if (!GROUP_NAME.test(name)) {
    throw new GatewayError("invalid_group", "group names are 1-128 characters of [A-Za-z0-9_.:-]", {
      details: { group_name: name.slice(0, 128) },
    });
  }
  if (!config.groupPrefixes.some((prefix) => name.startsWith(prefix))) {
    throw new GatewayError("invalid_group", "group name must start with an allowed prefix", {
      details: { group_name: name, prefixes: config.groupPrefixes },
    });
  }
  return name;
}

/** The room of a consultation: `consultation_{id}`. */
export function consultationGroup(consultationId: string): string {
  if (!CONSULTATION_ID.test(consultationId)) {
    throw new GatewayError(
      "invalid_group",
      "consultation ids are 1-100 characters of [A-Za-z0-9_-]",
    );
  }
  return `${CONSULTATION_PREFIX}${consultationId}`;
}

/** The consultation id of a room name, or null when the room is not a consultation. */
/** RoomHubs are named `room:{group}`. */
export const ROOM_ACTOR_PREFIX = "room:";

/** The group a RoomHub is, from its actor name (`room:{group}`). */
export function groupOfRoomActor(actorName: string): string {
  return actorName.startsWith(ROOM_ACTOR_PREFIX)
    ? actorName.slice(ROOM_ACTOR_PREFIX.length)
    : actorName;
}

export function consultationIdOf(groupName: string): string | null {
  if (!groupName.startsWith(CONSULTATION_PREFIX)) return null;
  const id = groupName.slice(CONSULTATION_PREFIX.length);
  return CONSULTATION_ID.test(id) ? id : null;
}

/** Most `*` one pattern of a token's `groups` claim may hold; more is refused at verification. */
export const MAX_GLOB_STARS = 8;

/** The number of `*` in a pattern. */
export function globStars(pattern: string): number {
  let stars = 0;
  for (const ch of pattern) if (ch === "*") stars++;
  return stars;
}

/**
 * `*` matches any run of characters, `?` one character; everything else is literal.
 *
 * Greedy two-pointer matching, without regular expressions (a regex built from `*` backtracks
 * exponentially: a 128-character name against 6 stars took 35 s). On a mismatch only the
 * latest `*` is retried, one character further on: a match before that star can never need to
 * change, because the latest star can absorb whatever an earlier one would have. Each retry
 * advances the resume point in `name`, so the work is at most `pattern.length × name.length`
 * character comparisons (128 × 128 for the longest grant and name), never exponential.
 */
export function globMatches(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  /** Index of the latest `*` in pattern, and where in name it currently stops matching. */
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    const ch = pattern[p];
    if (ch === "*") {
      star = p++;
      resume = n;
    } else if (ch !== undefined && (ch === "?" || ch === name[n])) {
      p++;
      n++;
    } else if (star >= 0) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}

export interface JoinRights {
  isStaff: boolean;
  isSuperuser: boolean;
  /** The token's `groups` claim. */
  grants: readonly string[];
}

/** Whether these rights (without a subscription token) allow joining `name`. */
export function mayJoin(
  rights: JoinRights,
  name: string,
  config: Pick<Config, "publicGroupPrefixes">,
): boolean {
  if (rights.isStaff || rights.isSuperuser) return true;
  if (config.publicGroupPrefixes.some((prefix) => name.startsWith(prefix))) return true;
  return rights.grants.some((grant) => globMatches(grant, name));
}
