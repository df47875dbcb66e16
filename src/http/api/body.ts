/**
 * Request bodies and other inputs: read with a byte limit, parsed as JSON, validated with a
 * valibot schema. Every failure is a GatewayError naming what was wrong.
 */
import * as v from "valibot";
import type { Termination } from "../../core/termination.ts";
import { GatewayError } from "../../protocol/errors.ts";

/**
 * `application/json`, with or without parameters, and structured `+json` types (RFC 6839).
 * Anything else is refused with 400 `invalid_json`, so the API answers with the protocol's own
 * codes only (docs/protocol.md lists 400/401/403/404/413/429/503).
 */
const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

function tooLarge(maxBytes: number): GatewayError {
  return new GatewayError("message_too_large", `request body exceeds ${maxBytes} bytes`, {
    details: { max_bytes: maxBytes },
  });
}

/** Read at most `maxBytes` of the body; stop reading (and cancel the stream) once over. */
async function readLimited(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = request.headers.get("Content-Length");
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  if (request.body === null) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/**
 * The request's JSON body, at most `maxBytes` long. With `optional` (a DELETE), a request
 * without a body (no bytes, whatever its Content-Type) reads as `{}`.
 */
export async function readJsonBody(
  request: Request,
  maxBytes: number,
  options: { optional?: boolean } = {},
): Promise<unknown> {
  const contentType = request.headers.get("Content-Type") ?? "";
  const wrongType = () =>
    new GatewayError("invalid_json", "Content-Type must be application/json", {
      details: { content_type: contentType.slice(0, 100) },
    });
  if (!options.optional && !JSON_MEDIA_TYPE.test(contentType)) throw wrongType();
  const bytes = await readLimited(request, maxBytes);
  if (options.optional) {
    if (bytes.byteLength === 0) return {};
    if (!JSON_MEDIA_TYPE.test(contentType)) throw wrongType();
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new GatewayError("invalid_json", "request body is not valid UTF-8");
  }
  if (text.trim() === "") throw new GatewayError("invalid_json", "request body is empty");
  try {
    return JSON.parse(text);
  } catch {
    throw new GatewayError("invalid_json", "request body is not valid JSON");
  }
}

/** A request body: a JSON object (valibot's `object` would take an array for one). */
export function parseBody<TSchema extends v.GenericSchema>(
  schema: TSchema,
  value: unknown,
): v.InferOutput<TSchema> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new GatewayError("validation_failed", "body: must be a JSON object", {
      details: { field: "body" },
    });
  }
  return parseInput(schema, value, "body");
}

/** The dotted path of an issue (`data.items.0`), or `fallback` for the value itself. */
function fieldOf(issue: v.BaseIssue<unknown>, fallback: string): string {
  const keys = (issue.path ?? []).map((item) => String(item.key));
  return keys.length === 0 ? fallback : keys.join(".");
}

/**
 * Validate `value` with `schema`; the first issue becomes `validation_failed` with
 * `details.field`. `field` names the value itself (`body`, or a path parameter).
 */
export function parseInput<TSchema extends v.GenericSchema>(
  schema: TSchema,
  value: unknown,
  field: string,
): v.InferOutput<TSchema> {
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  const [issue] = result.issues;
  const name = fieldOf(issue, field);
  const message =
    issue.kind === "schema" && issue.received === "undefined" && name !== field
      ? "is required"
      : issue.message;
  throw new GatewayError("validation_failed", `${name}: ${message}`, { details: { field: name } });
}

/** A validated termination body as the operation takes it (`block_until` in ms). */
export function terminationOf(body: { reason?: string; block_until?: string }): Termination {
  return {
    reason: body.reason ?? null,
    blockUntil:
      body.block_until === undefined ? null : parseTimestamp(body.block_until, "block_until"),
  };
}

/** An ISO 8601 timestamp (already checked for shape) as ms since the epoch. */
function parseTimestamp(value: string, field: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    throw new GatewayError("validation_failed", `${field}: is not a valid time`, {
      details: { field },
    });
  }
  return ms;
}
