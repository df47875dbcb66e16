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

/** Frames stored in a mailbox; keyed by MailboxType so a new mailbox type fails to compile here. */
const MAILBOX: Record<MailboxType, true> = {
  user_message: true,
  notification: true,
  system_broadcast: true,
  group_message: true,
  consultation_message: true,
};

/** A mailbox frame with its `seq`: the frames that resume replays and that are de-duplicated. */
export function isSequenced(frame: Frame): frame is Frame & { seq: number } {
  return Object.hasOwn(MAILBOX, frame.type) && frame.seq !== undefined;
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
