/**
 * Who is calling the HTTP API: server code holding the API key, or a staff user with a JWT.
 * The two differ in one rule only (docs/protocol.md, "HTTP API"): with the API key the caller speaks
 * for any user, so `from_user_id` is trusted; a staff token speaks only for its own user.
 */
import { isPrivileged, type Principal, verifyToken } from "../../core/auth.ts";
import type { Config } from "../../core/config.ts";
import { GatewayError } from "../../protocol/errors.ts";

export type ApiCaller = { kind: "api_key" } | { kind: "staff"; principal: Principal };

/** Server code (the API key, or a Worker through the RealtimeService binding). */
export const TRUSTED_CALLER: ApiCaller = { kind: "api_key" };

const encoder = new TextEncoder();

/**
 * Constant-time equality of two secrets. Both are hashed first, so the comparison always runs
 * over 32 bytes whatever their lengths, and neither the length nor a matching prefix of the key
 * can be learnt from timing.
 */
export async function secretsEqual(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(given)),
    crypto.subtle.digest("SHA-256", encoder.encode(expected)),
  ]);
  const left = new Uint8Array(a);
  const right = new Uint8Array(b);
  let difference = 0;
  for (let i = 0; i < left.length; i++) difference |= (left[i] ?? 0) ^ (right[i] ?? 0);
  return difference === 0;
}

/** Three base64url segments: worth verifying as a JWT rather than reporting a wrong API key. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * The caller of an API request from its `Authorization: Bearer …` header.
 * 401 `unauthorized` for a missing, wrong or invalid credential; 403 `forbidden` for a valid
 * token of a user who is neither staff nor superuser.
 */
export async function authenticateApiCaller(
  authorization: string | null,
  config: Config,
): Promise<ApiCaller> {
  const match = authorization?.match(/^Bearer\s+(\S+)\s*$/i);
  const credential = match?.[1];
  if (credential === undefined) {
    throw new GatewayError("unauthorized", "missing Authorization: Bearer credentials");
  }
  if (config.apiKey !== null && (await secretsEqual(credential, config.apiKey))) {
    return TRUSTED_CALLER;
  }
  if (!JWT_SHAPE.test(credential)) {
    throw new GatewayError("unauthorized", "invalid API key");
  }
  const principal = await verifyToken(credential, config);
  if (!isPrivileged(principal)) {
    throw new GatewayError("forbidden", "only staff or superuser tokens may use the HTTP API");
  }
  return { kind: "staff", principal };
}

/**
 * The sender of a direct message. With the API key `from_user_id` is required and trusted;
 * with a staff token it defaults to the caller and may not name anyone else.
 */
export function senderOf(
  caller: ApiCaller,
  requested: string | undefined,
): { userId: string; username: string } {
  if (caller.kind === "api_key") {
    if (requested === undefined) {
      throw new GatewayError("validation_failed", "from_user_id: is required with the API key", {
        details: { field: "from_user_id" },
      });
    }
    return { userId: requested, username: requested };
  }
  const { userId, username } = caller.principal;
  if (requested !== undefined && requested !== userId) {
    throw new GatewayError("forbidden", "a staff token may only send as its own user", {
      details: { field: "from_user_id" },
    });
  }
  return { userId, username };
}

/** Who a broadcast or group message is from: the staff user, or the system for server code. */
export function originOf(caller: ApiCaller): string | null {
  return caller.kind === "staff" ? caller.principal.userId : null;
}
