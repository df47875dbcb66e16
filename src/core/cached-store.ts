/**
 * A key-value store (Durable Object storage) with the values it has read or written kept in
 * memory. Sound for an actor's own keys: every write goes through this one object (one actor
 * instance, single-threaded), so the copy in memory is the stored value until the instance is
 * evicted, and a new instance starts with an empty cache. Reading storage is not free even
 * when the runtime caches it (each call crosses into the runtime), and presence reads the
 * same few keys many times per event.
 */
import type { KeyValueStore } from "./presence-keeper.ts";

interface BackingStore extends KeyValueStore {
  delete(key: string): Promise<boolean>;
}

const ABSENT = Symbol("absent");

export class CachedStore implements KeyValueStore {
  private readonly backing: BackingStore;
  private readonly values = new Map<string, unknown>();

  constructor(backing: BackingStore) {
    this.backing = backing;
  }

  async get<T>(key: string): Promise<T | undefined> {
    if (!this.values.has(key)) {
      const value = await this.backing.get<T>(key);
      // Another call may have written the key while this read was in flight: keep that.
      if (!this.values.has(key)) this.values.set(key, value === undefined ? ABSENT : value);
    }
    const value = this.values.get(key);
    return value === ABSENT ? undefined : (value as T);
  }

  async put<T>(key: string, value: T): Promise<void> {
    this.values.set(key, value);
    await this.backing.put(key, value);
  }

  async delete(key: string): Promise<boolean> {
    this.values.set(key, ABSENT);
    return this.backing.delete(key);
  }
}
