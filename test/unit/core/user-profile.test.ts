import { describe, expect, it } from "vitest";
import { CachedStore } from "../../../src/core/cached-store.ts";
import { UserProfileStore } from "../../../src/core/user-profile.ts";
import { memoryStorage } from "../helpers/storage.ts";

const ann = { userId: "7", username: "ann", isStaff: false, isSuperuser: false };

describe("UserProfileStore", () => {
  it("knows no profile for a user who never connected", async () => {
    expect(await new UserProfileStore(new CachedStore(memoryStorage())).get()).toBeUndefined();
  });

  it("serves a remembered profile at once and stores it with the next commit", async () => {
    const storage = memoryStorage();
    const store = new CachedStore(storage);
    const profiles = new UserProfileStore(store);
    await profiles.remember(ann);
    expect(await profiles.get()).toEqual(ann);
    expect(storage.map.has("profile")).toBe(false);
    await store.commit();
    expect(storage.map.get("profile")).toEqual(ann);
    expect(await new UserProfileStore(new CachedStore(storage)).get()).toEqual(ann);
  });

  it("stages nothing when the profile did not change, and the change when it did", async () => {
    const storage = memoryStorage();
    storage.map.set("profile", ann);
    const store = new CachedStore(storage);
    const profiles = new UserProfileStore(store);
    await profiles.remember({ ...ann });
    await store.commit();
    await profiles.remember({ ...ann, isStaff: true });
    await store.commit();
    expect(storage.map.get("profile")).toEqual({ ...ann, isStaff: true });
  });
});
