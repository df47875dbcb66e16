/**
 * Text and free-form JSON the gateway accepts: what Postgres can store and an actor call can
 * carry. Every string of a frame's `data` and of an HTTP body passes through here.
 *
 * - U+0000: a `text` column refuses the byte (SQLSTATE 22021) and `jsonb` the `\u0000` escape
 *   (22P05).
 * - A lone surrogate (U+D800–U+DFFF not in a pair): `jsonb` refuses the escape JSON.stringify
 *   writes for it (22P02), and a UTF-8 encoder silently turns it into U+FFFD elsewhere.
 * - Nesting: deeper than MAX_DATA_DEPTH is refused before it reaches code that recurses
 *   (structured clone across an actor RPC, JSON.stringify), where it failed as `internal`.
 *
 * Shared with the client SDK: no runtime imports.
 */
import * as v from "valibot";

/** Objects and arrays inside one another, counting the outermost: `{}` is 1, `{"a":[]}` 2. */
export const MAX_DATA_DEPTH = 32;

export const STORABLE_TEXT_RULE = "must not contain U+0000 or a lone surrogate";

// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is exactly what must be found.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, "g");

/**
 * `String.prototype.isWellFormed` (ES2024: no lone surrogate), native and ~50 times faster than
 * the regex on long text; the regex where a runtime lacks it (browsers before 2023).
 */
type MaybeWellFormed = { isWellFormed?: (this: string) => boolean };
const isWellFormed = (String.prototype as MaybeWellFormed).isWellFormed;

/** Whether Postgres can store `text` as it is (no U+0000, no lone surrogate). */
export function isStorableText(text: string): boolean {
  if (isWellFormed === undefined) return !UNSTORABLE.test(text);
  return !text.includes("\u0000") && isWellFormed.call(text);
}

/** `text` with every unstorable character replaced by U+FFFD, to name a bad key safely. */
export function storableForm(text: string): string {
  return text.replace(UNSTORABLE_ALL, "\uFFFD");
}

/** The first thing wrong in a JSON value: where (keys and indexes from the value) and why. */
export interface DataProblem {
  /** Containers and keys from the value down to the offending one. */
  trail: { input: Record<string, unknown> | unknown[]; key: string | number; value: unknown }[];
  reason: string;
}

interface Pending {
  value: unknown;
  depth: number;
  trail: DataProblem["trail"];
}

/**
 * Walks `value` without recursion (a 64 KiB frame can nest 30,000 levels) and stops at the
 * first string Postgres cannot store (values and keys), number JSON cannot carry (JSON.parse
 * reads `1e400` as Infinity), non-JSON value, or container deeper than `maxDepth`.
 */
export function findDataProblem(
  value: unknown,
  maxDepth: number = MAX_DATA_DEPTH,
): DataProblem | null {
  const stack: Pending[] = [{ value, depth: 0, trail: [] }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { value: current, depth, trail } = item;
    if (typeof current === "string") {
      if (!isStorableText(current)) return { trail, reason: STORABLE_TEXT_RULE };
      continue;
    }
    if (typeof current === "number") {
      if (!Number.isFinite(current)) return { trail, reason: "must be a finite number" };
      continue;
    }
    if (current === null || typeof current === "boolean") continue;
    if (typeof current !== "object") return { trail, reason: "must be a JSON value" };
    if (depth + 1 > maxDepth) {
      return { trail, reason: `must not nest deeper than ${maxDepth} levels` };
    }
    // Pushed in reverse, so the first problem in document order is the one reported.
    if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index--) {
        const child = current[index];
        stack.push({
          value: child,
          depth: depth + 1,
          trail: [...trail, { input: current, key: index, value: child }],
        });
      }
      continue;
    }
    const record = current as Record<string, unknown>; // a non-array object: JSON's object
    const keys = Object.keys(record);
    for (let index = keys.length - 1; index >= 0; index--) {
      const key = keys[index] as string;
      const child = record[key];
      const step = { input: record, key: storableForm(key), value: child };
      if (!isStorableText(key)) {
        return { trail: [...trail, step], reason: `key ${STORABLE_TEXT_RULE}` };
      }
      stack.push({ value: child, depth: depth + 1, trail: [...trail, step] });
    }
  }
  return null;
}

/** The dotted name of a problem's place below `root` (`data.foo.0`), or `root` itself. */
export function dataProblemField(problem: DataProblem, root: string): string {
  return [root, ...problem.trail.map((step) => String(step.key))].join(".");
}

function issuePath(problem: DataProblem): [v.IssuePathItem, ...v.IssuePathItem[]] | undefined {
  const items = problem.trail.map(
    (step): v.IssuePathItem =>
      Array.isArray(step.input)
        ? {
            type: "array",
            origin: "value",
            input: step.input,
            key: Number(step.key),
            value: step.value,
          }
        : {
            type: "object",
            origin: "value",
            input: step.input,
            key: String(step.key),
            value: step.value,
          },
  );
  const [first, ...rest] = items;
  return first === undefined ? undefined : [first, ...rest];
}

/** A valibot action: the value is JSON that Postgres can store and nests at most 32 levels. */
export function storableJson<T>() {
  return v.rawCheck<T>(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const problem = findDataProblem(dataset.value);
    if (problem === null) return;
    const path = issuePath(problem);
    addIssue(path === undefined ? { message: problem.reason } : { message: problem.reason, path });
  });
}
