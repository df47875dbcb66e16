/**
 * Frames in and out: an unknown WebSocket message becomes a typed command or a GatewayError.
 *
 * The order of checks decides which error a client sees, so it follows docs/protocol.md:
 * binary → size → JSON → envelope shape → known type → data (text and nesting, then the schema).
 */
import * as v from "valibot";
import { GatewayError } from "./errors.ts";
import { dataProblemField, findDataProblem } from "./json-data.ts";
import {
  type ClientCommand,
  COMMAND_DATA,
  type CommandType,
  type RequestId,
  RequestIdSchema,
  type ServerData,
  type ServerType,
} from "./messages.ts";

/** Default frame limit (docs/protocol.md): 64 KiB. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;

const encoder = new TextEncoder();

function byteLengthOver(text: string, maxBytes: number): boolean {
  if (text.length * 3 <= maxBytes) return false;
  if (text.length > maxBytes) return true;
  return encoder.encode(text).byteLength > maxBytes;
}

export interface DecodeFailure {
  error: GatewayError;
  /** The request id when it could be read, so the error reply can echo it. */
  id?: RequestId;
}

export type DecodeResult = { ok: true; command: ClientCommand } | ({ ok: false } & DecodeFailure);

function fail(error: GatewayError, id?: RequestId): DecodeResult {
  return id === undefined ? { ok: false, error } : { ok: false, error, id };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The dotted path of the first failing field, e.g. `data.target_user_id`. */
function issuePath(issue: v.BaseIssue<unknown>): string {
  const keys = (issue.path ?? []).map((item) => String(item.key));
  return ["data", ...keys].join(".");
}

export function decodeFrame(
  raw: string | ArrayBuffer,
  maxBytes: number = DEFAULT_MAX_FRAME_BYTES,
): DecodeResult {
  if (typeof raw !== "string") {
    if (raw.byteLength > maxBytes) {
      return fail(new GatewayError("message_too_large", `frame exceeds ${maxBytes} bytes`));
    }
    return fail(new GatewayError("invalid_message", "binary frames are not supported"));
  }
  if (byteLengthOver(raw, maxBytes)) {
    return fail(
      new GatewayError("message_too_large", `frame exceeds ${maxBytes} bytes`, {
        details: { max_bytes: maxBytes },
      }),
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return fail(new GatewayError("invalid_json", "frame is not valid JSON"));
  }
  if (!isRecord(parsed)) {
    return fail(new GatewayError("invalid_message", "frame must be a JSON object"));
  }
  let id: RequestId | undefined;
  if (parsed.id !== undefined && parsed.id !== null) {
    const idResult = v.safeParse(RequestIdSchema, parsed.id);
    if (!idResult.success) {
      return fail(
        new GatewayError("validation_failed", "id must be a string (max 128) or a number", {
          details: { field: "id" },
        }),
      );
    }
    id = idResult.output;
  }
  const type = parsed.type;
  if (typeof type !== "string" || type.length === 0) {
    return fail(new GatewayError("invalid_message", "frame has no string `type`"), id);
  }
  if (!Object.hasOwn(COMMAND_DATA, type)) {
    return fail(
      new GatewayError("unknown_type", `unknown message type`, {
        details: { type: type.slice(0, 64) },
      }),
      id,
    );
  }
  const commandType = type as CommandType; // checked against COMMAND_DATA's own keys just above
  const schema = COMMAND_DATA[commandType];
  // A command without data may also send `null`; valibot's optional() only admits undefined.
  const data = parsed.data === null ? undefined : parsed.data;
  // valibot's object() would accept an array; the protocol's data is always an object.
  if (data !== undefined && !isRecord(data)) {
    return fail(
      new GatewayError("validation_failed", "data: must be an object", {
        details: { field: "data", reason: "must be an object" },
      }),
      id,
    );
  }
  // Every string of data (unknown keys too) must be storable, and data nests at most 32 levels:
  // checked on the whole value once, so no schema can forget a field.
  const problem = data === undefined ? null : findDataProblem(data);
  if (problem !== null) {
    const field = dataProblemField(problem, "data");
    return fail(
      new GatewayError("validation_failed", `${field}: ${problem.reason}`, {
        details: { field, reason: problem.reason },
      }),
      id,
    );
  }
  const result = v.safeParse(schema, data);
  if (!result.success) {
    const issue = result.issues[0];
    const field = issue.path === undefined && data === undefined ? "data" : issuePath(issue);
    return fail(
      new GatewayError("validation_failed", `${field}: ${issue.message}`, {
        details: { field, reason: issue.message },
      }),
      id,
    );
  }
  const command = { type: commandType, data: result.output } as ClientCommand;
  if (id !== undefined) command.id = id;
  return { ok: true, command };
}

/** The one place server frames are serialized. */
export function encodeFrame<K extends ServerType>(
  type: K,
  data: ServerData[K],
  extra: FrameExtras = {},
): string {
  // A frame without data (e.g. a pong with none) has no `data` key, as JSON.stringify would do.
  return encodeRawFrame(type, data === undefined ? undefined : JSON.stringify(data), extra);
}

export interface FrameExtras {
  id?: RequestId | undefined;
  seq?: number | undefined;
  ts?: string;
}

/**
 * A frame around `data` that is already JSON. Messages are encoded once where they are made
 * and travel as text (between actors, into the mailbox, out to every socket), so fanning one
 * out to many users does not re-serialize it for each.
 */
export function encodeRawFrame(
  type: ServerType,
  dataJson: string | undefined,
  extra: FrameExtras = {},
): string {
  let frame = dataJson === undefined ? `{"type":"${type}"` : `{"type":"${type}","data":${dataJson}`;
  if (extra.id !== undefined) frame += `,"id":${JSON.stringify(extra.id)}`;
  if (extra.seq !== undefined) frame += `,"seq":${extra.seq}`;
  return `${frame},"ts":${JSON.stringify(extra.ts ?? new Date().toISOString())}}`;
}

export function encodeError(error: GatewayError, id?: RequestId): string {
  return encodeFrame("error", error.toBody(), { id });
}
