/**
 * The `Realtime-Signature` header of presence webhooks (docs/protocol.md, "Presence webhooks"):
 * `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. Web Crypto only, so it runs in
 * Workers, Deno, Node and browsers alike; the Python client (realtime_gateway.webhooks) computes
 * the same value.
 */

/** The header name (HTTP header names are case-insensitive). */
export const SIGNATURE_HEADER = "Realtime-Signature";
/** How far a signature's timestamp may be from the receiver's clock, in seconds: 300 (5 min). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

const encoder = new TextEncoder();

async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
  return Array.from(mac, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The header value for `body` signed at `timestamp` (unix seconds). */
export async function signWebhook(
  secret: string,
  body: string,
  timestamp: number,
): Promise<string> {
  return `t=${timestamp},v1=${await hmacHex(secret, `${timestamp}.${body}`)}`;
}

/** Equal strings, compared without an early exit (the time does not tell where they differ). */
function constantTimeEqual(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  let diff = left.length ^ right.length;
  for (let i = 0; i < left.length; i++) diff |= (left[i] ?? 0) ^ (right[i] ?? 0);
  return diff === 0;
}

/**
 * Whether `header` signs the raw `body` with `secret` within `toleranceSeconds` (default 300) of
 * `now` (unix seconds, default the clock). Several `v1=` entries are accepted when any matches.
 * Verify the raw body text before parsing it: re-serialized JSON would not match.
 */
export async function verifyWebhookSignature(
  secret: string,
  body: string,
  header: string | null | undefined,
  options: { toleranceSeconds?: number; now?: number } = {},
): Promise<boolean> {
  if (!header) return false;
  let timestamp: number | null = null;
  const candidates: string[] = [];
  for (const part of header.split(",")) {
    const [key, value] = part.trim().split("=", 2);
    if (key === "t" && value !== undefined && /^\d{1,12}$/.test(value) && timestamp === null) {
      timestamp = Number(value);
    } else if (key === "v1" && value !== undefined) {
      candidates.push(value);
    } else if (key === "t") {
      return false;
    }
  }
  if (timestamp === null || candidates.length === 0) return false;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? SIGNATURE_TOLERANCE_SECONDS)) {
    return false;
  }
  const expected = await hmacHex(secret, `${timestamp}.${body}`);
  let matched = false;
  for (const candidate of candidates) matched = constantTimeEqual(expected, candidate) || matched;
  return matched;
}
