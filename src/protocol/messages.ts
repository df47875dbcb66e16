/**
 * The wire protocol (docs/protocol.md) as schemas and types.
 *
 * Client commands are valibot schemas, because they arrive as untrusted JSON and must be
 * parsed; server frames are plain types, because the gateway builds them itself. Both are
 * shared with the client SDK, so nothing here imports a runtime.
 */
import * as v from "valibot";
import { isStorableText, STORABLE_TEXT_RULE } from "./json-data.ts";

/** `message` text: 1–8,192 characters (JavaScript string length). */
export const MAX_MESSAGE_CHARS = 8192;
/** User ids: 1–64 of `[A-Za-z0-9_.:-]`; numbers (as seed clients send them) become strings. */
export const USER_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * A numeric id must be a safe integer (|n| ≤ 2^53 − 1): beyond that a double no longer holds
 * every integer, so 9007199254740993 arrives as 9007199254740992 and would be another user.
 */
export const UserIdSchema = v.pipe(
  v.union(
    [
      v.string(),
      v.pipe(
        v.number(),
        v.safeInteger("must be a safe integer (|n| <= 2^53 - 1); send larger ids as a string"),
      ),
    ],
    "must be a string or an integer",
  ),
  v.transform(String),
  v.regex(USER_ID_PATTERN, "must be 1-64 characters of [A-Za-z0-9_.:-]"),
);

/** Text that Postgres can store (json-data.ts): no U+0000, no lone surrogate. */
export const storableText = () => v.check<string, string>(isStorableText, STORABLE_TEXT_RULE);

export const MessageTextSchema = v.pipe(
  v.string("must be a string"),
  v.minLength(1, "must not be empty"),
  v.maxLength(MAX_MESSAGE_CHARS, `must be at most ${MAX_MESSAGE_CHARS} characters`),
  storableText(),
);

const MessageTypeSchema = v.pipe(
  v.string("must be a string"),
  v.regex(/^[A-Za-z0-9_.:-]{1,64}$/, "must be 1-64 characters of [A-Za-z0-9_.:-]"),
);

/** Group names are checked by the group policy (prefixes are configuration), not here. */
const GroupNameSchema = v.pipe(v.string("must be a string"), v.maxLength(1024, "is too long"));

/** A position in a stream: a non-negative integer (`seq`, `group_seq`). */
const GroupSeqSchema = v.pipe(
  v.number("must be a number"),
  v.integer("must be an integer"),
  v.minValue(0),
);

/** A client request id, echoed on the reply: a string of at most 128 characters or a number. */
export const RequestIdSchema = v.union(
  [v.pipe(v.string(), v.maxLength(128)), v.pipe(v.number(), v.finite())],
  "must be a string of at most 128 characters or a number",
);
export type RequestId = v.InferOutput<typeof RequestIdSchema>;

/** The `data` schema of each client command; a command without data accepts none or `{}`. */
export const COMMAND_DATA = {
  ping: v.optional(v.object({})),
  get_status: v.optional(
    v.object({
      user_ids: v.optional(v.pipe(v.array(UserIdSchema), v.maxLength(100, "at most 100 ids"))),
    }),
  ),
  send_message: v.object({
    target_user_id: UserIdSchema,
    message: MessageTextSchema,
    message_type: v.optional(MessageTypeSchema, "chat_message"),
  }),
  broadcast: v.object({
    message: MessageTextSchema,
    message_type: v.optional(MessageTypeSchema, "system_broadcast"),
  }),
  join_group: v.object({
    group_name: GroupNameSchema,
    token: v.optional(v.pipe(v.string(), v.maxLength(8192))),
    /** Replay the room's messages after this `group_seq` before `group_joined`. */
    since_group_seq: v.optional(GroupSeqSchema),
    /** The room `epoch` that `since_group_seq` was counted in; another epoch makes the gap unfillable. */
    epoch: v.optional(v.pipe(v.string("must be a string"), v.maxLength(64, "is too long"))),
  }),
  leave_group: v.object({ group_name: GroupNameSchema }),
  group_message: v.object({
    group_name: GroupNameSchema,
    message: MessageTextSchema,
    message_type: v.optional(MessageTypeSchema, "group_message"),
  }),
  consultation_message: v.object({ message: MessageTextSchema }),
  resume: v.object({ since_seq: GroupSeqSchema }),
  refresh_token: v.object({ token: v.pipe(v.string("must be a string"), v.minLength(1)) }),
} as const;

export type CommandType = keyof typeof COMMAND_DATA;
export const COMMAND_TYPES = Object.keys(COMMAND_DATA) as CommandType[];

/** A parsed client command: `{ type, data, id? }` narrowed by `type`. */
export type ClientCommand = {
  [K in CommandType]: { type: K; data: v.InferOutput<(typeof COMMAND_DATA)[K]>; id?: RequestId };
}[CommandType];

export type CommandOf<K extends CommandType> = Extract<ClientCommand, { type: K }>;

// ---------------------------------------------------------------------------------------------
// Server → client

export interface ConnectionEstablished {
  connection_id: string;
  user_id: string;
  username: string;
  is_online: true;
  connection_count: number;
  /** The user's mailbox on user sockets; the room's last `group_seq` on room sockets. */
  last_seq: number;
  heartbeat_interval_ms: number;
  /** Room sockets only: the room's last `group_seq` and its history's `epoch`. */
  group_seq?: number;
  epoch?: string;
}

export interface UserStatus {
  user_id: string;
  is_online: boolean;
  last_seen: string | null;
}

export interface StatusResponse {
  user_id: string;
  is_online: boolean;
  connection_count: number;
  connection_id: string;
  groups: string[];
  users?: UserStatus[];
}

export interface StatusChanged {
  user_id: string;
  is_online: boolean;
  connection_count: number;
  last_seen: string | null;
}

/** Counts-only presence of a room above ROOM_PRESENCE_MAX_MEMBERS members. */
export interface RoomPresence {
  group_name: string;
  online_count: number;
}

export interface UserMessage {
  message_id: string;
  from_user_id: string;
  from_username: string;
  message: string;
  message_type: string;
  sent_at: string;
}

export interface NotificationMessage {
  notification_id: string;
  title: string;
  message: string;
  data: unknown;
  created_at: string;
}

export interface SystemBroadcast {
  message_id: string;
  message: string;
  message_type: string;
  from_user_id: string;
  sent_at: string;
}

/** Where a room message sits in its room's history (docs/protocol.md, "Rooms"). */
export interface RoomPosition {
  /** Per room, strictly increasing. */
  group_seq: number;
  /** Changes when the room's history is lost: positions of another epoch cannot be resumed. */
  epoch: string;
}

export interface GroupMessage extends RoomPosition {
  message_id: string;
  group_name: string;
  from_user_id: string;
  message_type: string;
  message?: string;
  data?: unknown;
  sent_at: string;
}

export interface ConsultationMessage extends RoomPosition {
  message_id: string;
  consultation_id: string;
  from_user_id: string;
  from_username: string;
  message: string;
  sent_at: string;
}

export interface ConsultationState {
  consultation_id: string;
  participants: { user_id: string; username: string; is_online: boolean }[];
}

export interface MessageSent {
  message_id: string;
  target_user_id?: string;
  group_name?: string;
  recipients: number;
  delivered: boolean;
  sent_at: string;
}

export interface GroupMembership {
  group_name: string;
  member_count: number;
}

export interface GroupJoined extends GroupMembership, RoomPosition {
  /** false when messages after `since_group_seq` were pruned, or the epoch changed. */
  complete: boolean;
}

/** `reason: "forbidden"` when a refreshed token no longer allows the group (no request id then). */
export interface GroupLeft extends GroupMembership {
  reason?: "forbidden";
}

export interface Resumed {
  from_seq: number;
  to_seq: number;
  complete: boolean;
}

export interface ErrorData {
  code: string;
  message: string;
  details?: Record<string, unknown>;
  retry_after_ms?: number;
}

/** The `data` of every server frame, by type. */
export interface ServerData {
  connection_established: ConnectionEstablished;
  pong: { server_time: string } | undefined;
  status_response: StatusResponse;
  status_changed: StatusChanged;
  user_message: UserMessage;
  notification: NotificationMessage;
  system_broadcast: SystemBroadcast;
  group_message: GroupMessage;
  consultation_message: ConsultationMessage;
  consultation_state: ConsultationState;
  message_sent: MessageSent;
  group_joined: GroupJoined;
  group_left: GroupLeft;
  resumed: Resumed;
  token_refreshed: { expires_at: string };
  room_presence: RoomPresence;
  error: ErrorData;
}

export type ServerType = keyof ServerData;

/** Frames stored in a user's mailbox carry a `seq`. */
export const MAILBOX_TYPES = [
  "user_message",
  "notification",
  "system_broadcast",
] as const satisfies readonly ServerType[];
export type MailboxType = (typeof MAILBOX_TYPES)[number];

/** Frames stored once in their room's history carry a `group_seq` and `epoch` instead. */
export const ROOM_MESSAGE_TYPES = [
  "group_message",
  "consultation_message",
] as const satisfies readonly ServerType[];
export type RoomMessageType = (typeof ROOM_MESSAGE_TYPES)[number];

export type ServerFrame = {
  [K in ServerType]: {
    type: K;
    data: ServerData[K];
    id?: RequestId;
    seq?: number;
    ts: string;
  };
}[ServerType];

export type FrameOf<K extends ServerType> = Extract<ServerFrame, { type: K }>;
