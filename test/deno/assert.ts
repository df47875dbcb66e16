/**
 * The two assertions these tests need, without node:assert (whose types Deno would look for in
 * `@types/node`) or jsr:@std/assert (which would have to be fetched): structural equality of
 * JSON values, and truth.
 */
export function assertEquals(actual: unknown, expected: unknown, what = "value"): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

export function assert(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${what}`);
}
