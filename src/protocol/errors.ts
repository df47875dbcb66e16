/**
 * Every failure the gateway reports, as one error type with a string code.
 *
 * The code is what clients see (in `error` frames and HTTP bodies); the mapping to an
 * HTTP status and a WebSocket close code lives here and nowhere else.
 */

export const ERROR_CODES = [
  "invalid_json",
  "invalid_message",
  "unknown_type",
  "validation_failed",
  "message_too_large",
  "forbidden",
  "user_not_found",
  "invalid_group",
  "not_in_group",
  "rate_limited",
  "token_expired",
  "unauthorized",
  "unavailable",
  "internal",
  // HTTP-only codes: the socket protocol never sends these.
  "not_found",
  "upgrade_required",
  "too_many_connections",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** HTTP status for each code (docs/protocol.md: 400/401/403/404/413/426/429/503). */
const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_json: 400,
  invalid_message: 400,
  unknown_type: 400,
  validation_failed: 400,
  message_too_large: 413,
  forbidden: 403,
  user_not_found: 404,
  invalid_group: 400,
  not_in_group: 403,
  rate_limited: 429,
  token_expired: 401,
  unauthorized: 401,
  unavailable: 503,
  internal: 500,
  not_found: 404,
  upgrade_required: 426,
  too_many_connections: 429,
};

/**
 * How a client should answer a close: dial again (with backoff), never, or only when it can
 * present a new token (a fixed token string would be refused again).
 */
export type Reconnect = "yes" | "no" | "with_new_token";

/** One way a socket ends: the close code and reason the server sends, and what a client does next. */
export interface Disconnect {
  readonly code: number;
  readonly reason: string;
  readonly reconnect: Reconnect;
}

/**
 * Every close the gateway starts (docs/protocol.md, "Close codes"): the server closes through these
 * rows and the client SDK decides from the same rows whether to reconnect. Rows that share a
 * code share `reconnect`, because the client sees only the code.
 */
export const Disconnects = {
  /** Answer to a peer's own close whose code cannot be sent back (1005, 1006). */
  normal: { code: 1000, reason: "", reconnect: "yes" },
  goingAway: { code: 1001, reason: "going away", reconnect: "yes" },
  abuse: { code: 1008, reason: "rate limit abuse", reconnect: "no" },
  tooLarge: { code: 1009, reason: "frame too large", reconnect: "yes" },
  socketError: { code: 1011, reason: "socket error", reconnect: "yes" },
  sessionLost: { code: 1011, reason: "session lost", reconnect: "yes" },
  tokenExpired: { code: 4001, reason: "token expired", reconnect: "with_new_token" },
  consultationForbidden: { code: 4003, reason: "consultation not allowed", reconnect: "no" },
  /** An operator closed every socket of the user (`DELETE /api/v1/users/{id}/connections`). */
  terminated: { code: 4003, reason: "terminated", reconnect: "no" },
  tooManyConnections: { code: 4009, reason: "too many connections", reconnect: "no" },
} as const satisfies Record<string, Disconnect>;

/**
 * Whether a client dials again after a close with `code`. Codes the gateway never sends
 * (1006 dropped, a proxy's 1001, anything unknown) reconnect with backoff.
 */
export function reconnectsAfter(code: number, hasNewToken: boolean): boolean {
  const row = Object.values(Disconnects).find((disconnect) => disconnect.code === code);
  if (row === undefined) return true;
  return row.reconnect === "yes" || (row.reconnect === "with_new_token" && hasNewToken);
}

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  retry_after_ms?: number;
}

export class GatewayError extends Error {
  override readonly name = "GatewayError";
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  readonly retryAfterMs: number | undefined;
  /** True when the same request may succeed later (a dependency was down, a rate limit). */
  readonly temporary: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
    this.temporary = code === "rate_limited" || code === "unavailable";
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { code: this.code, message: this.message };
    if (this.details !== undefined) body.details = this.details;
    if (this.retryAfterMs !== undefined) body.retry_after_ms = this.retryAfterMs;
    return body;
  }
}

export function httpStatusOf(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

/**
 * Workers RPC keeps only an error's message, not its properties, so a GatewayError crosses an
 * RPC boundary (actor to actor, and the RealtimeService binding to the calling Worker) as an
 * Error whose message carries its code and `retry_after_ms`:
 * `[gateway:unavailable:1000] the gateway is busy`. `forRpc` writes it; `readRpcMessage` (for
 * `toGatewayError` and the server SDK's `RealtimeApiError.from`) reads it back.
 */
const RPC_MESSAGE = /^\[gateway:([a-z_]+)(?::(\d{1,9}))?\] ([\s\S]*)$/;

export function forRpc(err: unknown): unknown {
  if (!(err instanceof GatewayError)) return err;
  const retry =
    err.retryAfterMs === undefined ? "" : `:${Math.max(0, Math.round(err.retryAfterMs))}`;
  return new Error(`[gateway:${err.code}${retry}] ${err.message}`);
}

/** The code, retry delay (ms) and message an RPC error carries, or null for any other error. */
export function readRpcMessage(
  err: unknown,
): { code: string; retryAfterMs: number | undefined; message: string } | null {
  if (!(err instanceof Error)) return null;
  const match = RPC_MESSAGE.exec(err.message);
  if (match?.[1] === undefined) return null;
  return {
    code: match[1],
    retryAfterMs: match[2] === undefined ? undefined : Number(match[2]),
    message: match[3] ?? "",
  };
}

export function isErrorCode(code: string): code is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code);
}

/** Anything thrown becomes a GatewayError; unknown failures become `internal` without their text. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  const carried = readRpcMessage(err);
  if (carried !== null && isErrorCode(carried.code)) {
    const options: { cause: unknown; retryAfterMs?: number } = { cause: err };
    if (carried.retryAfterMs !== undefined) options.retryAfterMs = carried.retryAfterMs;
    return new GatewayError(carried.code, carried.message, options);
  }
  return new GatewayError("internal", "internal error", { cause: err });
}
