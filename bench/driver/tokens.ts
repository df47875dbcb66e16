import { SignJWT } from "jose";

/** A user the bench connects as. `groups` is the token's `groups` claim (names or globs). */
export interface BenchUser {
  readonly userId: string;
  readonly username: string;
  readonly groups: readonly string[];
}

export function benchUser(userId: string, groups: readonly string[] = []): BenchUser {
  return { userId, username: `bench ${userId}`, groups };
}

/**
 * Mints HS256 tokens with the claims the gateway reads (docs/protocol.md, "Authentication"):
 * `{ user_id, username, exp, groups }`. Tokens are cached per user: minting is cheap, but a
 * run opens thousands of sockets for a few hundred users.
 */
export class TokenMint {
  readonly #key: Uint8Array;
  readonly #ttlSeconds: number;
  readonly #cache = new Map<string, Promise<string>>();

  /** `ttlSeconds`: token lifetime, in seconds. Default 3600, far longer than any run. */
  constructor(secret: string, ttlSeconds = 3600) {
    if (secret.length < 32)
      throw new TypeError("TokenMint: the secret must have at least 32 characters");
    this.#key = new TextEncoder().encode(secret);
    this.#ttlSeconds = ttlSeconds;
  }

  tokenFor(user: BenchUser): Promise<string> {
    const cacheKey = `${user.userId}\n${user.groups.join(",")}`;
    let token = this.#cache.get(cacheKey);
    if (!token) {
      token = new SignJWT({
        user_id: user.userId,
        username: user.username,
        groups: [...user.groups],
      })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + this.#ttlSeconds)
        .sign(this.#key);
      this.#cache.set(cacheKey, token);
    }
    return token;
  }
}
