/**
 * The `exp` claim (seconds since the epoch) of a JWT, read without verifying the signature:
 * the client only uses it to time a `refresh_token`; the gateway does the verifying.
 * Undefined when the token is not a JWT or has no numeric `exp`.
 */
export function jwtExpiry(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    // atob accepts unpadded input (WHATWG forgiving-base64). Claims other than `exp` may come
    // out as mojibake because the bytes are not UTF-8 decoded; JSON.parse does not mind.
    const claims: unknown = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    if (typeof claims === "object" && claims !== null && "exp" in claims) {
      const exp = claims.exp;
      if (typeof exp === "number" && Number.isFinite(exp)) return exp;
    }
  } catch {
    // Not base64 or not JSON: not a JWT we can time.
  }
  return undefined;
}
