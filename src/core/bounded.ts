/** Run `work` over `items` with at most `limit` in flight; results in input order. */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}

/**
 * At most `size` calls in flight across every caller that shares this window; the others wait
 * their turn in arrival order. For work already accepted (a room message being fanned out),
 * which must finish, so it waits instead of being refused.
 */
export class Window {
  readonly #size: number;
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`size must be a positive integer, got ${size}`);
    }
    this.#size = size;
  }

  get active(): number {
    return this.#active;
  }

  get size(): number {
    return this.#size;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#size) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#active++;
    }
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next waiter, so a newcomer cannot overtake it.
      const next = this.#waiting.shift();
      if (next === undefined) this.#active--;
      else next();
    }
  }
}
