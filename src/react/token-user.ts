/**
 * The user a JWT names (`user_id`, else `sub`, as the gateway reads it), without verifying it:
 * the hook only uses it to tell whether a new token is for the same user, so that the new
 * connection may resume after the last message the old one handled. Undefined when unreadable.
 */
export function tokenUser(token: string): string | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const claims: unknown = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    if (typeof claims !== "object" || claims === null) return undefined;
    const user = "user_id" in claims ? claims.user_id : "sub" in claims ? claims.sub : undefined;
    return typeof user === "string" || typeof user === "number" ? String(user) : undefined;
  } catch {
    // Not base64 or not JSON: not a token we can read.
    return undefined;
  }
}
