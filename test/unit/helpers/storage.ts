/**
 * An in-memory twin of the Durable Object key-value storage (`ctx.storage.get/put`), for core
 * modules that take a KeyValueStore. Like the real one, values are structured-cloned on the way
 * in and out, so a caller mutating what it read changes nothing until it puts it back.
 */
import type { KeyValueStore } from "../../../src/core/cached-store.ts";

export interface MemoryStorage extends KeyValueStore {
  readonly map: Map<string, unknown>;
  delete(key: string): Promise<boolean>;
}

export function memoryStorage(): MemoryStorage {
  const map = new Map<string, unknown>();
  return {
    map,
    async get<T>(key: string): Promise<T | undefined> {
      const value = map.get(key);
      // The caller names the stored type, as with ctx.storage.get<T>.
      return value === undefined ? undefined : (structuredClone(value) as T);
    },
    async put<T>(key: string, value: T): Promise<void> {
      map.set(key, structuredClone(value));
    },
    async delete(key: string): Promise<boolean> {
      return map.delete(key);
    },
  };
}
