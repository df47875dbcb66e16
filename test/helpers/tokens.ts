/** Minting test tokens the way an application (or djangorestframework-simplejwt) would. */
import { SignJWT } from "jose";
import { TEST_JWT_SECRET } from "./secrets.ts";

export interface TokenOptions {
  username?: string;
  staff?: boolean;
  superuser?: boolean;
  groups?: string[];
  /** Seconds from now; negative for an already expired token. Default 3600. */
  expiresIn?: number;
  secret?: string;
  alg?: "HS256" | "HS384" | "HS512";
  claims?: Record<string, unknown>;
  /** Put the user id in `sub` instead of `user_id`. */
  useSub?: boolean;
}

export async function mintToken(
  userId: string | number,
  options: TokenOptions = {},
): Promise<string> {
  const payload: Record<string, unknown> = {
    token_type: "access",
    ...(options.useSub ? {} : { user_id: userId }),
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.staff ? { is_staff: true } : {}),
    ...(options.superuser ? { is_superuser: true } : {}),
    ...(options.groups ? { groups: options.groups } : {}),
    ...options.claims,
  };
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: options.alg ?? "HS256" })
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 3600));
  if (options.useSub) jwt.setSubject(String(userId));
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET));
}

/**
 * A subscription token: one group for one user (`token_type: "subscription"`, `sub`, `group`),
 * for `join_group { token }` only; the gateway refuses it on upgrades and `refresh_token`.
 */
export async function mintSubscriptionToken(
  userId: string | number,
  group: string,
  options: Pick<TokenOptions, "expiresIn" | "secret" | "claims"> = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ token_type: "subscription", group, ...options.claims })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(String(userId))
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 3600))
    .sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET));
}
