/**
 * Tokens the shared `mintToken` cannot make (no `exp`, `alg: none`, asymmetric keys) and the
 * configuration the auth tests verify against.
 */
import { type CryptoKey, SignJWT } from "jose";
import { type Config, parseConfig, type RawEnv } from "../../../src/core/config.ts";
import { TEST_JWT_SECRET } from "../../helpers/secrets.ts";

/** A config that verifies tokens minted with the test secret, plus any overrides. */
export function configWith(env: RawEnv = {}): Config {
  return parseConfig({ JWT_SECRET: TEST_JWT_SECRET, ...env });
}

/** Seconds since the epoch, on the (possibly frozen) clock. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Signs exactly these claims (nothing added, so a token without `exp` is possible). */
export async function signClaims(
  claims: Record<string, unknown>,
  options: { alg?: string; kid?: string; key?: CryptoKey | Uint8Array } = {},
): Promise<string> {
  const alg = options.alg ?? "HS256";
  const header = options.kid === undefined ? { alg } : { alg, kid: options.kid };
  return new SignJWT(claims)
    .setProtectedHeader(header)
    .sign(options.key ?? new TextEncoder().encode(TEST_JWT_SECRET));
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/** An unsecured JWT (RFC 7519 §6): header `alg: none` and an empty signature. */
export function unsecuredToken(claims: Record<string, unknown>): string {
  return `${base64url({ alg: "none", typ: "JWT" })}.${base64url(claims)}.`;
}
