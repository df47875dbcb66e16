/**
 * The wire as the client SDK sees it: frame types narrowed by `type`, which reply answers which
 * command, and reading a frame from text. Types come from the protocol module as type-only
 * imports, so no schema library ends up in the client bundle.
 */
import type { InferInput } from "valibot";
import type {
  COMMAND_DATA,
  CommandType,
  MailboxType,
  RequestId,
  RoomMessageType,
  RoomPosition,
  ServerData,
  ServerType,
} from "../protocol/messages.ts";

/** A server frame as the client sees it; `ts` is absent on the runtime's bare `{"type":"pong"}`. */
export type Frame<K extends ServerType = ServerType> = {
  [T in K]: { type: T; data: ServerData[T]; id?: RequestId; seq?: number; ts?: string };
}[K];

/** What a command's `data` may be (user ids may be numbers; the gateway makes them strings). */
export type CommandData<K extends CommandType> = InferInput<(typeof COMMAND_DATA)[K]>;

/** The frame type that answers each command (docs/protocol.md, "Client → server"). */
type Replies = {
  ping: "pong";
  get_status: "status_response";
  send_message: "message_sent";
  broadcast: "message_sent";
  join_group: "group_joined";
  leave_group: "group_left";
  group_message: "message_sent";
  consultation_message: "message_sent";
  resume: "resumed";
  refresh_token: "token_refreshed";
};
export type ReplyOf<K extends CommandType> = Frame<Replies[K]>;

/** The exact frame the gateway answers with `{"type":"pong"}` without waking its actor. */
export const PING = '{"type":"ping"}';

/** Frames that may carry a `seq`; keyed by type so a new stored type fails to compile here. */
const SEQUENCED: Record<MailboxType | RoomMessageType, true> = {
  user_message: true,
  notification: true,
  system_broadcast: true,
  // With a `seq` on room and consultation sockets, whose stream is the room's history.
  group_message: true,
  consultation_message: true,
};

/** A frame with its `seq`: the frames that resume replays and that are de-duplicated. */
export function isSequenced(frame: Frame): frame is Frame & { seq: number } {
  return Object.hasOwn(SEQUENCED, frame.type) && frame.seq !== undefined;
}

/**
 * The room and position of a room message (on user sockets, where it carries no `seq`), or
 * undefined for any other frame. A consultation's room is the group `consultation_{id}`.
 */
export function roomPositionOf(frame: Frame): { room: string; position: RoomPosition } | undefined {
  if (frame.type !== "group_message" && frame.type !== "consultation_message") return undefined;
  const data: unknown = frame.data;
  if (!isRecord(data) || !Number.isSafeInteger(data.group_seq) || typeof data.epoch !== "string") {
    return undefined;
  }
  const room =
    typeof data.group_name === "string"
      ? data.group_name
      : typeof data.consultation_id === "string"
        ? `consultation_${data.consultation_id}`
        : undefined;
  if (room === undefined) return undefined;
  return { room, position: { group_seq: Number(data.group_seq), epoch: data.epoch } };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Checks the envelope (a string `type`; `id`, `seq`, `ts` of the right kinds, else left out) and
 * trusts `data` to be what docs/protocol.md says for that type: the gateway builds these frames from
 * the same types, and a schema library here would outweigh the rest of the client.
 */
export function parseFrame(text: string): Frame | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || typeof value.type !== "string") return undefined;
  const { type, data, id, seq, ts } = value;
  const frame: Record<string, unknown> = { type, data };
  if (typeof id === "string" || typeof id === "number") frame.id = id;
  if (Number.isSafeInteger(seq)) frame.seq = seq;
  if (typeof ts === "string") frame.ts = ts;
  return frame as Frame;
}
