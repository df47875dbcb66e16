import { describe, expect, it } from "vitest";
import { CachedStore } from "../../../src/core/cached-store.ts";

/** A Map-backed store that counts the reads that reach it. */
function backing() {
  const data = new Map<string, unknown>();
  const counts = { get: 0, put: 0, delete: 0 };
  return {
    data,
    counts,
    async get<T>(key: string) {
      counts.get += 1;
      return data.get(key) as T | undefined;
    },
    async put<T>(key: string, value: T) {
      counts.put += 1;
      data.set(key, value);
    },
    async delete(key: string) {
      counts.delete += 1;
      return data.delete(key);
    },
  };
}

describe("CachedStore", () => {
  it("reads a key from storage once, absent keys included", async () => {
    const store = backing();
    store.data.set("a", 1);
    const cached = new CachedStore(store);
    expect(await cached.get("a")).toBe(1);
    expect(await cached.get("a")).toBe(1);
    expect(await cached.get("missing")).toBeUndefined();
    expect(await cached.get("missing")).toBeUndefined();
    expect(store.counts.get).toBe(2);
  });

  it("writes through and serves its own writes and deletes without reading", async () => {
    const store = backing();
    const cached = new CachedStore(store);
    await cached.put("k", { v: 1 });
    expect(store.data.get("k")).toEqual({ v: 1 });
    expect(await cached.get("k")).toEqual({ v: 1 });
    await cached.delete("k");
    expect(store.data.has("k")).toBe(false);
    expect(await cached.get("k")).toBeUndefined();
    expect(store.counts.get).toBe(0);
  });

  it("a fresh instance (an evicted actor) reads storage again", async () => {
    const store = backing();
    await new CachedStore(store).put("k", 2);
    expect(await new CachedStore(store).get("k")).toBe(2);
    expect(store.counts.get).toBe(1);
  });
});
