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

/** HTTP status for each code (PROTOCOL.md: 400/401/403/404/413/426/429/503). */
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

/** WebSocket close codes (PROTOCOL.md, "Close codes"). */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  policyViolation: 1008,
  tooLarge: 1009,
  internalError: 1011,
  tokenInvalid: 4001,
  forbidden: 4003,
  tooManyConnections: 4009,
} as const;

/** Codes that end a socket when they happen to it; everything else is answered and the socket stays. */
const CLOSES_WITH: Partial<Record<ErrorCode, number>> = {
  token_expired: CloseCode.tokenInvalid,
  unauthorized: CloseCode.tokenInvalid,
  too_many_connections: CloseCode.tooManyConnections,
  internal: CloseCode.internalError,
};

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

  /** The close code when this error ends a socket, else undefined. */
  get closeCode(): number | undefined {
    return CLOSES_WITH[this.code];
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
 * Errors thrown across Workers RPC (one actor calling another) arrive as plain Errors that keep
 * only their message, so an actor's RPC method sends a GatewayError's code inside the message
 * (`forRpc`) and the caller's `toGatewayError` reads it back; `retry_after_ms` travels with it
 * (`[gateway:unavailable:1000] …`).
 */
const RPC_MESSAGE = /^\[gateway:([a-z_]+)(?::(\d{1,9}))?\] ([\s\S]*)$/;

export function forRpc(err: unknown): unknown {
  if (!(err instanceof GatewayError)) return err;
  const retry =
    err.retryAfterMs === undefined ? "" : `:${Math.max(0, Math.round(err.retryAfterMs))}`;
  return new Error(`[gateway:${err.code}${retry}] ${err.message}`);
}

function isErrorCode(code: string): code is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code);
}

/** Anything thrown becomes a GatewayError; unknown failures become `internal` without their text. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err instanceof Error) {
    const match = RPC_MESSAGE.exec(err.message);
    if (match?.[1] !== undefined && isErrorCode(match[1])) {
      const options: { cause: unknown; retryAfterMs?: number } = { cause: err };
      if (match[2] !== undefined) options.retryAfterMs = Number(match[2]);
      return new GatewayError(match[1], match[3] ?? "", options);
    }
  }
  return new GatewayError("internal", "internal error", { cause: err });
}
