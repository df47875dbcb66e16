/**
 * The one error type of the server SDK and the RealtimeService binding: the gateway's error
 * `code` (docs/protocol.md, "Error codes") with the HTTP status, plus three codes of the SDK's own for
 * failures that never reached an answer.
 */
import { type ErrorCode, httpStatusOf, isErrorCode, readRpcMessage } from "../protocol/errors.ts";

/** The gateway's codes (docs/protocol.md) and the SDK's own for calls that got no answer. */
export type RealtimeApiErrorCode =
  | ErrorCode
  /** No answer within `timeoutMs`. */
  | "timeout"
  /** The request never reached the gateway (DNS, connection refused, TLS). */
  | "network_error"
  /** The gateway (or a proxy in front of it) answered something that is not the API's JSON. */
  | "invalid_response";

export class RealtimeApiError extends Error {
  override readonly name = "RealtimeApiError";
  /** The gateway's code; a code this SDK version does not know yet is passed through as is. */
  readonly code: RealtimeApiErrorCode | (string & {});
  /** The HTTP status; 0 when there was no answer (`timeout`, `network_error`). */
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;
  /** With `rate_limited` and `unavailable`: how long to wait before retrying, in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: RealtimeApiErrorCode | (string & {}),
    message: string,
    options: {
      status?: number;
      details?: Record<string, unknown>;
      retryAfterMs?: number;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.status = options.status ?? 0;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** True when the same call may succeed later. */
  get temporary(): boolean {
    return (
      this.code === "rate_limited" ||
      this.code === "unavailable" ||
      this.code === "timeout" ||
      this.code === "network_error"
    );
  }

  /**
   * The RealtimeApiError behind `err`: itself, or one that crossed a service binding. Workers
   * RPC keeps only an error's message (own properties such as `code` are dropped), so the
   * RealtimeService writes the code and retry delay into it (`forRpc` in src/protocol/errors.ts):
   * `[gateway:user_not_found] no such user: 42`. Returns null for any other error.
   */
  static from(err: unknown): RealtimeApiError | null {
    if (err instanceof RealtimeApiError) return err;
    const carried = readRpcMessage(err);
    if (carried === null) return null;
    return new RealtimeApiError(carried.code, carried.message, {
      status: isErrorCode(carried.code) ? httpStatusOf(carried.code) : 500,
      retryAfterMs: carried.retryAfterMs,
      cause: err,
    });
  }
}
