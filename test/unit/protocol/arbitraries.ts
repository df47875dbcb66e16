/**
 * fast-check generators for what clients and callers may send: strings with U+0000 and lone
 * surrogates, numbers beyond 2^53, JSON nested far deeper than allowed, and the protocol's
 * field names filled with any of these. Shared by the codec and HTTP schema property tests.
 */
import fc from "fast-check";
import { isStorableText } from "../../../src/protocol/json-data.ts";

/** Any string, including lone surrogates (unit "binary") and the ones Postgres refuses. */
export const nastyString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 30 }),
  fc.string({ unit: "grapheme", maxLength: 30 }),
  fc.constantFrom("", "\u0000", "\ud800", "\udfff", "a\ud800b", "\udc00\ud800", "😀", "__proto__"),
);

/** Numbers around and far beyond the safe-integer range, fractions and doubles. */
export const hugeNumber = fc.oneof(
  fc.double(),
  fc.maxSafeInteger(),
  fc.constantFrom(2 ** 53, 2 ** 53 + 2, -(2 ** 53), Number.MAX_SAFE_INTEGER, 1e21, 1e308, 0.5, -1),
);

/** Any JSON-like value with nasty strings and numbers, a few levels deep. */
export const nastyJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", maxDepth: 5 },
    nastyString,
    hugeNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(nastyString, tie("value"), { maxKeys: 4 }),
  ),
})).value;

/** `value` wrapped in `levels` objects or arrays. */
export function wrapped(levels: number, value: unknown, asArray: boolean): unknown {
  let current = value;
  for (let i = 0; i < levels; i++) current = asArray ? [current] : { k: current };
  return current;
}

/** JSON nested anywhere from 0 to 120 levels, around the 32-level limit most of the time. */
export const deepJson = fc
  .tuple(
    fc.oneof(fc.integer({ min: 28, max: 36 }), fc.integer({ min: 0, max: 120 })),
    nastyJson,
    fc.boolean(),
  )
  .map(([levels, leaf, asArray]) => wrapped(levels, leaf, asArray));

/** A field value of any kind: what a careless or hostile client may put in any field. */
export const anyField = fc.oneof(nastyString, hugeNumber, nastyJson, deepJson);

/** The protocol's field names (every command's and every body's), each maybe set to anything. */
export const fieldsOfAnyValue = fc.record(
  {
    target_user_id: anyField,
    user_ids: fc.oneof(fc.array(anyField, { maxLength: 5 }), anyField),
    message: anyField,
    message_type: anyField,
    group_name: anyField,
    token: anyField,
    since_seq: anyField,
    since_group_seq: anyField,
    title: anyField,
    data: anyField,
    from_user_id: anyField,
  },
  { requiredKeys: [] },
);

/** Valid field values. */
export const userIdText = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/);
export const userIdValue = fc.oneof(userIdText, fc.maxSafeInteger());
export const messageType = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/);
export const messageText = fc
  .string({ unit: "grapheme", minLength: 1, maxLength: 200 })
  .filter((text) => text.length >= 1 && text.length <= 8192 && isStorableText(text));
export const groupName = fc.stringMatching(/^group_[a-z0-9]{1,20}$/);
