/**
 * What the gateway knows about one socket. It survives hibernation as the socket's attachment,
 * so it is parsed back from `unknown` on every wake and never trusted blindly.
 */
import * as v from "valibot";

/** Attachment format version: bump when the shape changes, old sockets then parse to null. */
const ATTACHMENT_VERSION = 1;

const ConnectionSchema = v.object({
  v: v.literal(ATTACHMENT_VERSION),
  connectionId: v.string(),
  userId: v.string(),
  username: v.string(),
  isStaff: v.boolean(),
  isSuperuser: v.boolean(),
  /** The token's `groups` claim: names or globs this connection may join. */
  grants: v.array(v.string()),
  /** Groups this socket joined. */
  groups: v.array(v.string()),
  /**
   * Joined groups that a subscription token allowed (not the connection token's rights), so a
   * `refresh_token` does not take them away. Absent in attachments from before it existed.
   */
  subscribed: v.optional(v.array(v.string()), []),
  /** Token expiry, seconds since the epoch; moved forward by `refresh_token`. */
  expiresAt: v.number(),
  connectedAt: v.number(),
});

export type Connection = v.InferOutput<typeof ConnectionSchema>;

/** A WebSocket attachment holds at most 16 KiB (a Workers limit); claims beyond these bounds are cut. */
const MAX_GRANTS = 64;
const MAX_GRANT_CHARS = 128;

export function boundGrants(grants: string[]): string[] {
  return grants.filter((g) => g.length <= MAX_GRANT_CHARS).slice(0, MAX_GRANTS);
}

export function newConnection(fields: Omit<Connection, "v" | "groups" | "subscribed">): Connection {
  return {
    v: ATTACHMENT_VERSION,
    ...fields,
    grants: boundGrants(fields.grants),
    groups: [],
    subscribed: [],
  };
}

/** null when the attachment is missing or from another version: the caller closes that socket. */
export function parseConnection(attachment: unknown): Connection | null {
  const result = v.safeParse(ConnectionSchema, attachment);
  return result.success ? result.output : null;
}
