import type { GatewayError } from "../protocol/errors.ts";

/**
 * The one JSON error response of the HTTP side: `{ error: { code, message, details? } }` with
 * the code's status, plus the headers some statuses call for (426 Upgrade, 401 Bearer
 * challenge per RFC 6750, Retry-After).
 */
export function errorResponse(error: GatewayError): Response {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "cache-control": "no-store",
  };
  if (error.code === "upgrade_required") headers.Upgrade = "websocket";
  if (error.code === "unauthorized") headers["WWW-Authenticate"] = 'Bearer realm="realtime"';
  if (error.retryAfterMs !== undefined) {
    // Whole seconds (RFC 9110 §10.2.3), at least 1 so a client never retries at once.
    headers["Retry-After"] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
  }
  return new Response(JSON.stringify({ error: error.toBody() }), {
    status: error.httpStatus,
    headers,
  });
}
