/**
 * The client SDK's one error type: the gateway's error code from an `error` frame, or one of
 * the client's own codes for failures that never got an answer.
 */
import type { ErrorCode } from "../protocol/errors.ts";
import { type Frame, isRecord } from "./frames.ts";
import type { CloseInfo } from "./transport.ts";

/** Codes the client itself produces, next to the gateway's own. */
export type ClientErrorCode =
  /** No reply within the request's timeout. */
  | "timeout"
  /** The socket the request went out on closed before the reply came; a reconnect follows. */
  | "connection_closed"
  /** The client is closed (by `close()` or a terminal close code). */
  | "closed"
  /** The send queue is full while disconnected; the frame was not sent. */
  | "queue_full"
  /** The token provider threw or returned something that is not a non-empty string. */
  | "token_provider_failed"
  /** The WebSocket could not be created (e.g. the token is not a valid subprotocol value). */
  | "connect_failed"
  /** A frame from the server that is not a JSON object with a string `type`. */
  | "invalid_frame";

/** `string & {}` keeps codes a newer gateway may add representable without losing narrowing. */
export type RealtimeErrorCode = ErrorCode | ClientErrorCode | (string & {});

export class RealtimeError extends Error {
  override readonly name = "RealtimeError";
  readonly code: RealtimeErrorCode;
  readonly details: Record<string, unknown> | undefined;
  /**
   * Duration (in milliseconds) the gateway asks to wait before retrying (`rate_limited`, and
   * `unavailable` when an overloaded gateway refused the request without acting on it).
   */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: RealtimeErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
  }

  /**
   * True when the gateway refused the request without acting on it and the same request may
   * succeed later (after `retryAfterMs`): safe to send again. Not `timeout`, whose request
   * may have been carried out.
   */
  get temporary(): boolean {
    return this.code === "rate_limited" || this.code === "unavailable";
  }

  /** The error an `error` frame carries (`{ code, message, details?, retry_after_ms? }`). */
  static fromFrame(frame: Frame): RealtimeError {
    const data: unknown = frame.data;
    if (!isRecord(data)) return new RealtimeError("internal", "error frame without data");
    const code = typeof data.code === "string" ? data.code : "internal";
    return new RealtimeError(code, typeof data.message === "string" ? data.message : code, {
      details: isRecord(data.details) ? data.details : undefined,
      retryAfterMs: typeof data.retry_after_ms === "number" ? data.retry_after_ms : undefined,
    });
  }

  /** `closed`, with the close code in `details.close_code` when a socket close caused it. */
  static closed(info?: CloseInfo): RealtimeError {
    const why = info ? ` (close ${info.code}${info.reason ? `: ${info.reason}` : ""})` : "";
    return new RealtimeError("closed", `the client is closed${why}`, {
      details: info ? { close_code: info.code } : undefined,
    });
  }

  /** Anything thrown, as a RealtimeError with `code` unless it already is one. */
  static wrap(error: unknown, code: ClientErrorCode): RealtimeError {
    if (error instanceof RealtimeError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new RealtimeError(code, message, { cause: error });
  }
}
