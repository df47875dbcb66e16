/**
 * Who the user of an actor is (id, name, staff flags), as the last socket's token said; kept in
 * the actor's storage, so a delivery or a status answered while no socket is open knows it.
 */
import type { CachedStore } from "./cached-store.ts";

export interface UserProfile {
  userId: string;
  username: string;
  isStaff: boolean;
  isSuperuser: boolean;
}

const PROFILE_KEY = "profile";

export class UserProfileStore {
  private readonly store: CachedStore;

  constructor(store: CachedStore) {
    this.store = store;
  }

  /** The profile, or undefined for a user who never connected. */
  get(): Promise<UserProfile | undefined> {
    return this.store.get<UserProfile>(PROFILE_KEY);
  }

  /** Staged when it changed: stored with the connection change that follows it. */
  async remember(profile: UserProfile): Promise<void> {
    const stored = await this.get();
    if (
      stored?.userId !== profile.userId ||
      stored.username !== profile.username ||
      stored.isStaff !== profile.isStaff ||
      stored.isSuperuser !== profile.isSuperuser
    ) {
      this.store.stage(PROFILE_KEY, profile);
    }
  }
}
