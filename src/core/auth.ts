/**
 * Who is calling: the token is taken from the request, verified with jose, and its claims
 * parsed into a Principal. Runtime-agnostic (Workers, Node, Deno).
 */
import {
  createRemoteJWKSet,
  type JWTPayload,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
} from "jose";
import * as v from "valibot";
import { GatewayError } from "../protocol/errors.ts";
import { storableText, UserIdSchema } from "../protocol/messages.ts";
import type { Config } from "./config.ts";
import { globStars, MAX_GLOB_STARS } from "./groups.ts";

export interface Principal {
  userId: string;
  username: string;
  isStaff: boolean;
  isSuperuser: boolean;
  /** Group names or glob patterns (`consultation_*`) this user may join. */
  groups: string[];
  /** Token expiry, seconds since the epoch. */
  expiresAt: number;
}

export type TokenSource = "query" | "subprotocol" | "header";

/** Clock tolerance for exp/nbf at verification (docs/protocol.md): 30 seconds. */
export const CLOCK_TOLERANCE_SECONDS = 30;

const HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"];
const ASYMMETRIC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
];

/**
 * The token of a request, from the first of `?token=`, `Sec-WebSocket-Protocol: bearer, <jwt>`
 * and `Authorization: Bearer <jwt>` (docs/protocol.md, "Authentication").
 */
export function extractToken(request: Request): { token: string; source: TokenSource } | null {
  const fromQuery = new URL(request.url).searchParams.get("token");
  if (fromQuery) return { token: fromQuery, source: "query" };
  const protocols = request.headers.get("Sec-WebSocket-Protocol");
  if (protocols) {
    const [first, second] = protocols.split(",").map((p) => p.trim());
    if (first?.toLowerCase() === "bearer" && second)
      return { token: second, source: "subprotocol" };
  }
  const authorization = request.headers.get("Authorization");
  const match = authorization?.match(/^Bearer\s+(\S+)$/i);
  if (match?.[1]) return { token: match[1], source: "header" };
  return null;
}

// Remote key sets are cached per isolate: jose refreshes them itself (cooldown 30 s, max age 10 min).
const remoteKeySets = new Map<string, JWTVerifyGetKey>();

function keyResolver(config: Config): { key: JWTVerifyGetKey; algorithms: string[] } {
  const { secret, jwksUrl } = config.jwt;
  let remote: JWTVerifyGetKey | null = null;
  if (jwksUrl !== null) {
    const href = jwksUrl.toString();
    remote = remoteKeySets.get(href) ?? createRemoteJWKSet(jwksUrl);
    remoteKeySets.set(href, remote);
  }
  const algorithms = [...(secret ? HMAC_ALGORITHMS : []), ...(remote ? ASYMMETRIC_ALGORITHMS : [])];
  const key: JWTVerifyGetKey = async (header, token) => {
    if (HMAC_ALGORITHMS.includes(header.alg) && secret) return secret;
    if (remote) return remote(header, token);
    throw new joseErrors.JOSEAlgNotAllowed("algorithm not allowed");
  };
  return { key, algorithms };
}

function reasonOf(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return "token expired";
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return "bad token signature";
  if (err instanceof joseErrors.JWTClaimValidationFailed)
    return `token claim ${err.claim} is invalid`;
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return "token algorithm not allowed";
  if (err instanceof joseErrors.JWKSNoMatchingKey) return "no key matches the token";
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) {
    return "malformed token";
  }
  return "invalid token";
}

/** Verify signature and standard claims; any failure is `unauthorized` with a short reason. */
async function verifyPayload(token: string, config: Config): Promise<JWTPayload> {
  const { key, algorithms } = keyResolver(config);
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ["exp"],
      ...(config.jwt.issuer ? { issuer: config.jwt.issuer } : {}),
      ...(config.jwt.audience ? { audience: config.jwt.audience } : {}),
    });
    return payload;
  } catch (err) {
    // The identity provider's key set being unreachable is an outage, not a bad token.
    if (err instanceof joseErrors.JWKSTimeout || err instanceof TypeError) {
      throw new GatewayError("unavailable", "key set unavailable", { cause: err });
    }
    throw new GatewayError("unauthorized", reasonOf(err), { cause: err });
  }
}

const ClaimsSchema = v.object({
  exp: v.number(),
  // The username is stored in Postgres (users.username): refuse what it cannot store, or the
  // user's presence writes would fail on every retry.
  username: v.optional(v.pipe(v.string(), storableText())),
  is_staff: v.optional(v.unknown()),
  is_superuser: v.optional(v.unknown()),
  groups: v.optional(
    v.array(
      v.pipe(
        v.string(),
        // Matching is linear in any case; the cap keeps patterns meaningful (docs/protocol.md).
        v.check(
          (g) => globStars(g) <= MAX_GLOB_STARS,
          `has more than ${MAX_GLOB_STARS} * in a pattern`,
        ),
      ),
      "must be a list of strings",
    ),
  ),
  token_type: v.optional(v.unknown()),
});

/**
 * What a token is for (`token_type`). djangorestframework-simplejwt writes `access` and
 * `refresh`; subscription tokens (one group for one user) carry `subscription`. Only an access
 * token (or one without the claim) opens a connection: a subscription token must never stand
 * in for it, or a one-group grant would open the user's socket and read the mailbox.
 */
function tokenTypeError(payload: JWTPayload): string | null {
  const type = payload.token_type;
  if (type === undefined || type === "access") {
    return "group" in payload ? "subscription tokens cannot open connections" : null;
  }
  if (type === "refresh") return "refresh tokens cannot open connections";
  if (type === "subscription") return "subscription tokens cannot open connections";
  return "token_type must be access";
}

/**
 * A connection token → Principal (upgrades, `refresh_token`, staff calls to the HTTP API).
 * Refused: refresh and subscription tokens, and grants with more than MAX_GLOB_STARS stars.
 */
export async function verifyToken(token: string, config: Config): Promise<Principal> {
  const payload = await verifyPayload(token, config);
  const typeError = tokenTypeError(payload);
  if (typeError !== null) throw new GatewayError("unauthorized", typeError);
  const claims = v.safeParse(ClaimsSchema, payload);
  if (!claims.success) {
    const [issue] = claims.issues;
    const field = issue.path?.map((p) => String(p.key)).join(".") ?? "claims";
    const why = issue.type === "check" ? issue.message : "is invalid";
    throw new GatewayError("unauthorized", `token claim ${field} ${why}`);
  }
  const rawUserId = config.jwt.userClaim
    ? payload[config.jwt.userClaim]
    : (payload.user_id ?? payload.sub);
  const userId = v.safeParse(UserIdSchema, rawUserId);
  if (!userId.success) {
    throw new GatewayError("unauthorized", "token has no valid user id claim");
  }
  const { username, is_staff, is_superuser, groups, exp } = claims.output;
  return {
    userId: userId.output,
    username: username ?? userId.output,
    isStaff: is_staff === true,
    isSuperuser: is_superuser === true,
    groups: groups ?? [],
    expiresAt: exp,
  };
}

/**
 * A subscription token grants one user one group: claims `token_type: "subscription"`,
 * `sub` = the user, `group` = the name. Any other token (an access token too) grants nothing.
 */
export async function verifySubscriptionToken(
  token: string,
  config: Config,
  userId: string,
  groupName: string,
): Promise<boolean> {
  try {
    const payload = await verifyPayload(token, config);
    return (
      payload.token_type === "subscription" && payload.sub === userId && payload.group === groupName
    );
  } catch {
    return false;
  }
}

/** Identity handed from the Worker to an actor in an internal header (never accepted from clients). */
export const PrincipalSchema = v.object({
  userId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.:-]{1,64}$/)),
  username: v.string(),
  isStaff: v.boolean(),
  isSuperuser: v.boolean(),
  groups: v.array(v.string()),
  expiresAt: v.number(),
});

export function isPrivileged(principal: Pick<Principal, "isStaff" | "isSuperuser">): boolean {
  return principal.isStaff || principal.isSuperuser;
}
