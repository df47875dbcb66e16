/**
 * Whether a user exists when no socket of theirs is open: a user who ever connected to their
 * actor exists; otherwise the application's user table is asked (when Postgres is configured)
 * and the answer kept in the actor: "exists" in storage for good, "does not exist" only in
 * memory for UNKNOWN_USER_TTL_MS, so a direct message stays one actor hop once the answer is
 * known, and sends to made-up ids leave nothing behind in storage (docs/protocol.md, "Budgets": never
 * store negative lookups).
 */
import { GatewayError } from "../protocol/errors.ts";
import type { KeyValueStore } from "./cached-store.ts";

/** How long "this user does not exist" is believed before asking the user table again: 30 s. */
export const UNKNOWN_USER_TTL_MS = 30_000;

export interface KnownUserOptions {
  store: KeyValueStore;
  /** Whether the user ever connected to this actor. */
  connectedBefore: () => Promise<boolean>;
  /** Looks the user up in the application's table; null when Postgres is off. */
  lookup: ((userId: string) => Promise<boolean>) | null;
  now?: () => number;
  log?: (message: string) => void;
}

export class KnownUser {
  private readonly options: KnownUserOptions;
  /** When the user table last said "no such user" to this instance; never stored. */
  private unknownAt: number | null = null;

  constructor(options: KnownUserOptions) {
    this.options = options;
  }

  /** Throws GatewayError `unavailable` when the user table must be asked and cannot answer. */
  async check(userId: string): Promise<boolean> {
    const { store, lookup } = this.options;
    if (await this.options.connectedBefore()) return true;
    const now = (this.options.now ?? Date.now)();
    // Older versions also stored `{ known: false }`; only a stored yes counts.
    const cached = await store.get<{ known: boolean; at: number }>("known_user");
    if (cached?.known === true) return true;
    if (this.unknownAt !== null && now - this.unknownAt < UNKNOWN_USER_TTL_MS) return false;
    if (lookup === null) return false;
    let known: boolean;
    try {
      known = await lookup(userId);
    } catch (err) {
      this.options.log?.(`user table unavailable: ${String(err)}`);
      throw new GatewayError("unavailable", "cannot tell whether the user exists right now");
    }
    if (known) await store.put("known_user", { known, at: now });
    else this.unknownAt = now;
    return known;
  }
}
