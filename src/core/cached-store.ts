/**
 * A key-value store (Durable Object storage) with the values it has read or written kept in
 * memory. Sound for an actor's own keys: every write goes through this one object (one actor
 * instance, single-threaded), so the copy in memory is the stored value until the instance is
 * evicted, and a new instance starts with an empty cache. Reading storage is not free even
 * when the runtime caches it (each call crosses into the runtime), and presence reads the
 * same few keys many times per event.
 *
 * A value may also be staged: in effect at once (reads see it) and stored by the next
 * `commit`, only if what of it must survive a restart differs from the stored value. The puts
 * of one commit are made without a pause, so the runtime commits them together.
 */

/** The subset of Durable Object storage the core needs (any async key-value store fits). */
export interface KeyValueStore {
  get<T>(key: string): Promise<T | undefined>;
  put<T>(key: string, value: T): Promise<void>;
}

interface BackingStore extends KeyValueStore {
  delete(key: string): Promise<boolean>;
}

/** What of a value must survive a restart, as comparable text. */
export type DurableForm = (value: unknown) => string;

const ABSENT = Symbol("absent");

export class CachedStore implements KeyValueStore {
  private readonly backing: BackingStore;
  /** What storage holds, as far as this instance read or wrote it. */
  private readonly stored = new Map<string, unknown>();
  /** Values newer than storage, each with what of it must be stored. */
  private readonly staged = new Map<string, { value: unknown; durable: DurableForm }>();
  /** Staged keys the next commit looks at. */
  private readonly uncommitted = new Set<string>();

  constructor(backing: BackingStore) {
    this.backing = backing;
  }

  async get<T>(key: string): Promise<T | undefined> {
    const staged = this.staged.get(key);
    if (staged !== undefined) return staged.value as T;
    return this.storedValue<T>(key);
  }

  async put<T>(key: string, value: T): Promise<void> {
    this.stored.set(key, value);
    this.staged.delete(key);
    await this.backing.put(key, value);
  }

  async delete(key: string): Promise<boolean> {
    this.stored.set(key, ABSENT);
    this.staged.delete(key);
    return this.backing.delete(key);
  }

  /** In effect now, stored by the next commit when its durable form differs from storage's. */
  stage(key: string, value: unknown, durable: DurableForm = stableJson): void {
    this.staged.set(key, { value, durable });
    this.uncommitted.add(key);
  }

  /**
   * Store every staged value whose durable form differs from the stored one; the others stay
   * in memory only (reads keep seeing them).
   */
  async commit(): Promise<void> {
    const keys = [...this.uncommitted];
    this.uncommitted.clear();
    const writes: Promise<void>[] = [];
    for (const key of keys) {
      const staged = this.staged.get(key);
      if (staged === undefined) continue;
      const stored = await this.storedValue(key);
      if (stored !== undefined && staged.durable(stored) === staged.durable(staged.value)) continue;
      writes.push(this.put(key, staged.value));
    }
    await Promise.all(writes);
  }

  private async storedValue<T>(key: string): Promise<T | undefined> {
    if (!this.stored.has(key)) {
      const value = await this.backing.get<T>(key);
      // Another call may have written the key while this read was in flight: keep that.
      if (!this.stored.has(key)) this.stored.set(key, value === undefined ? ABSENT : value);
    }
    const value = this.stored.get(key);
    return value === ABSENT ? undefined : (value as T);
  }
}

/** JSON with object keys sorted, so equal values give equal text. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === "object" && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}
