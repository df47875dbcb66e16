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

  it("serves a staged value at once and stores it only at commit", async () => {
    const store = backing();
    const cached = new CachedStore(store);
    cached.stage("k", { v: 1 });
    expect(await cached.get("k")).toEqual({ v: 1 });
    expect(store.counts.put).toBe(0);
    await cached.commit();
    expect(store.data.get("k")).toEqual({ v: 1 });
  });

  it("does not store a staged value whose durable form equals the stored one, but serves it", async () => {
    const store = backing();
    store.data.set("k", { v: 1, version: 1 });
    const cached = new CachedStore(store);
    const withoutVersion = (value: unknown) => JSON.stringify({ ...(value as object), version: 0 });
    cached.stage("k", { v: 1, version: 2 }, withoutVersion);
    await cached.commit();
    expect(store.counts.put).toBe(0);
    expect(await cached.get("k")).toEqual({ v: 1, version: 2 });
    cached.stage("k", { v: 2, version: 3 }, withoutVersion);
    await cached.commit();
    expect(store.data.get("k")).toEqual({ v: 2, version: 3 });
  });

  it("commits every staged key together, and a put replaces a staged value", async () => {
    const store = backing();
    const cached = new CachedStore(store);
    cached.stage("a", 1);
    cached.stage("b", 2);
    await cached.put("b", 3);
    await cached.commit();
    expect([...store.data]).toEqual([
      ["b", 3],
      ["a", 1],
    ]);
    expect(await cached.get("b")).toBe(3);
  });
});
