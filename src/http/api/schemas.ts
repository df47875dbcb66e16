/**
 * The HTTP API's inputs and results as valibot schemas. Requests are parsed with them, and the
 * OpenAPI document is generated from them (openapi.ts), so the two cannot drift apart. Field
 * schemas come from the socket protocol, so a message that a socket may send is exactly a
 * message the API accepts.
 */
import * as v from "valibot";
import { ERROR_CODES } from "../../protocol/errors.ts";
import { MAX_DATA_DEPTH, storableJson } from "../../protocol/json-data.ts";
import {
  COMMAND_DATA,
  MessageTextSchema,
  storableText,
  USER_ID_PATTERN,
  UserIdSchema,
} from "../../protocol/messages.ts";

// --- fields ----------------------------------------------------------------------------------

/** `message_type`: the protocol's schema, taken from the command that defines it. */
export const MessageTypeSchema = COMMAND_DATA.send_message.entries.message_type.wrapped;

/** A user id in a path is always a string (the body accepts numbers, as seed clients send). */
export const UserIdParamSchema = v.pipe(
  v.string(),
  v.regex(USER_ID_PATTERN, "must be 1-64 characters of [A-Za-z0-9_.:-]"),
  v.description("A user id: 1-64 characters of [A-Za-z0-9_.:-]."),
);

/** A group name in a path; which names exist is the group policy's decision (GROUP_PREFIXES). */
export const GroupNameParamSchema = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_.:-]{1,128}$/, "must be 1-128 characters of [A-Za-z0-9_.:-]"),
  v.description("1-128 characters of [A-Za-z0-9_.:-], starting with one of GROUP_PREFIXES."),
);

/** Notification titles: 1-256 characters. */
export const MAX_TITLE_CHARS = 256;
const TitleSchema = v.pipe(
  v.string("must be a string"),
  v.minLength(1, "must not be empty"),
  v.maxLength(MAX_TITLE_CHARS, `must be at most ${MAX_TITLE_CHARS} characters`),
  storableText(),
);

const JSON_RULES = `Strings (and keys) without U+0000 or lone surrogates; at most ${MAX_DATA_DEPTH} levels deep.`;

/** Any JSON value, but present: a body without it is refused, not filled with undefined. */
const RequiredJsonSchema = v.pipe(
  v.unknown(),
  v.check((value) => value !== undefined, "is required"),
  storableJson(),
  v.description(`Any JSON value. ${JSON_RULES}`),
);

const IsoTimeSchema = v.pipe(v.string(), v.isoTimestamp());

// --- request bodies --------------------------------------------------------------------------

export const NotificationBodySchema = v.pipe(
  v.object({
    title: TitleSchema,
    message: MessageTextSchema,
    data: v.optional(
      v.pipe(
        v.unknown(),
        storableJson(),
        v.description(`Any JSON value; default {}. ${JSON_RULES}`),
      ),
    ),
  }),
  v.title("NotificationBody"),
);

export const DirectMessageBodySchema = v.pipe(
  v.object({
    // Required with the API key; with a staff token it defaults to, and must equal, the caller
    // (auth.ts `senderOf`; the route's description says so in the OpenAPI document).
    from_user_id: v.optional(UserIdSchema),
    message: MessageTextSchema,
    message_type: COMMAND_DATA.send_message.entries.message_type,
  }),
  v.title("DirectMessageBody"),
);

export const BroadcastBodySchema = v.pipe(
  v.object({
    message: MessageTextSchema,
    message_type: COMMAND_DATA.broadcast.entries.message_type,
  }),
  v.title("BroadcastBody"),
);

export const GroupMessageBodySchema = v.pipe(
  v.object({ message_type: MessageTypeSchema, data: RequiredJsonSchema }),
  v.title("GroupMessageBody"),
);

/** The operator's reason shown to a terminated user: 1-256 characters. */
export const MAX_TERMINATION_REASON_CHARS = 256;

export const TerminateConnectionsBodySchema = v.pipe(
  v.object({
    reason: v.optional(
      v.pipe(
        v.string("must be a string"),
        v.minLength(1, "must not be empty"),
        v.maxLength(
          MAX_TERMINATION_REASON_CHARS,
          `must be at most ${MAX_TERMINATION_REASON_CHARS} characters`,
        ),
        storableText(),
        v.description(
          `1-${MAX_TERMINATION_REASON_CHARS} characters, sent to each socket as the message of an \`error\` frame (code \`forbidden\`, \`details.reason: "terminated"\`) just before the close.`,
        ),
      ),
    ),
    block_until: v.optional(
      v.pipe(
        v.string("must be a string"),
        v.isoTimestamp("must be an ISO 8601 timestamp with a time zone, e.g. 2026-12-31T00:00:00Z"),
        v.description(
          "ISO 8601 timestamp with a time zone, in the future: until then the user's upgrades answer 403 `forbidden`. Replaces an earlier block.",
        ),
      ),
    ),
  }),
  v.title("TerminateConnectionsBody"),
);

export type NotificationBody = v.InferOutput<typeof NotificationBodySchema>;
export type DirectMessageBody = v.InferOutput<typeof DirectMessageBodySchema>;
export type BroadcastBody = v.InferOutput<typeof BroadcastBodySchema>;
export type GroupMessageBody = v.InferOutput<typeof GroupMessageBodySchema>;

// --- results ---------------------------------------------------------------------------------

export const NotificationResultSchema = v.object({
  notification_id: v.string(),
  delivered: v.pipe(v.boolean(), v.description("At least one socket of the user received it.")),
  connection_count: v.pipe(v.number(), v.integer(), v.minValue(0)),
});

export const DirectMessageResultSchema = v.object({
  message_id: v.string(),
  delivered: v.pipe(v.boolean(), v.description("At least one socket of the user received it.")),
});

export const FanoutResultSchema = v.object({
  message_id: v.string(),
  recipients: v.pipe(v.number(), v.integer(), v.minValue(0), v.description("Users reached.")),
});

export const TerminateConnectionsResultSchema = v.object({
  closed: v.pipe(
    v.number(),
    v.integer(),
    v.minValue(0),
    v.description("Sockets closed: the user's own and the room sockets held for them."),
  ),
});

export const UserStatusResultSchema = v.object({
  user_id: v.string(),
  is_online: v.boolean(),
  connection_count: v.pipe(v.number(), v.integer(), v.minValue(0)),
  last_seen: v.nullable(IsoTimeSchema),
});

const CountSchema = v.pipe(v.number(), v.integer(), v.minValue(0));

export const UserDetailsResultSchema = v.object({
  user_id: v.string(),
  username: v.nullable(v.string()),
  is_online: v.boolean(),
  connection_count: CountSchema,
  last_seen: v.nullable(IsoTimeSchema),
  sockets: v.array(
    v.object({
      connection_id: v.string(),
      kind: v.pipe(
        v.picklist(["user", "room"]),
        v.description(
          "`user`: a /ws/user/ socket; `room`: a room or consultation socket (held by its room).",
        ),
      ),
      connected_at: v.nullable(IsoTimeSchema),
      groups: v.array(v.string()),
    }),
  ),
  groups: v.pipe(v.array(v.string()), v.description("Every group the user's sockets are in.")),
  mailbox: v.object({
    messages: v.pipe(CountSchema, v.description("Stored messages, notifications included.")),
    notifications: CountSchema,
    last_seq: v.pipe(CountSchema, v.description("The last `seq` handed out.")),
  }),
});

export const OnlineUserSchema = v.object({
  user_id: v.string(),
  connection_count: v.pipe(v.number(), v.integer(), v.minValue(0)),
});

export const OnlineUsersResultSchema = v.object({
  users: v.array(OnlineUserSchema),
  count: v.pipe(v.number(), v.integer(), v.minValue(0)),
});

/** `GET /health` (served by the app, documented here so the document covers the whole API). */
export const HealthResultSchema = v.object({
  status: v.picklist(["ok", "degraded"]),
  redis: v.picklist(["ok", "off", "behind"]),
  postgres: v.picklist(["ok", "off", "behind"]),
  webhook: v.optional(
    v.pipe(
      v.picklist(["ok", "behind"]),
      v.description(
        "Presence webhooks, present only when WEBHOOK_URL is set: behind while the receiver fails (not degraded).",
      ),
    ),
  ),
  webhook_dropped: v.optional(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(1),
      v.description(
        "Webhook events dropped unsent, older than WEBHOOK_MAX_AGE_SECONDS. Absent when none.",
      ),
    ),
  ),
  behind: v.optional(
    v.record(
      v.string(),
      v.object({
        users: v.pipe(v.number(), v.integer()),
        oldest_change_age_ms: v.pipe(v.number(), v.integer()),
      }),
    ),
  ),
  dead_letters: v.optional(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(1),
      v.description(
        "Notifications Postgres refused for their content, parked in their users' actors. Absent when none.",
      ),
    ),
  ),
});

export type NotificationResult = v.InferOutput<typeof NotificationResultSchema>;
export type DirectMessageResult = v.InferOutput<typeof DirectMessageResultSchema>;
export type FanoutResult = v.InferOutput<typeof FanoutResultSchema>;
export type UserStatusResult = v.InferOutput<typeof UserStatusResultSchema>;
export type OnlineUsersResult = v.InferOutput<typeof OnlineUsersResultSchema>;

export const ErrorBodySchema = v.object({
  error: v.object({
    code: v.picklist(ERROR_CODES),
    message: v.string(),
    details: v.optional(v.record(v.string(), v.unknown())),
    retry_after_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  }),
});
