import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  dataProblemField,
  findDataProblem,
  isStorableText,
  MAX_DATA_DEPTH,
} from "../../../src/protocol/json-data.ts";
import { wrapped } from "./arbitraries.ts";

const fieldOf = (value: unknown) => {
  const problem = findDataProblem(value);
  return problem === null ? null : dataProblemField(problem, "data");
};

describe("isStorableText", () => {
  it.each([
    ["", true],
    ["plain", true],
    ["😀 emoji pair", true],
    ["\u0001 other control characters", true],
    ["\u0000", false],
    ["high \ud800 alone", false],
    ["low \udc00 alone", false],
    ["\udc00\ud800 pair backwards", false],
    ["ends in a high \ud83d", false],
  ])("%j → %s", (text, storable) => {
    expect(isStorableText(text)).toBe(storable);
  });

  describe("without String.prototype.isWellFormed (older browsers)", () => {
    afterEach(() => {
      vi.resetModules();
    });

    it("answers as the native check does, for any string", async () => {
      const native = isStorableText;
      const descriptor = Object.getOwnPropertyDescriptor(String.prototype, "isWellFormed");
      delete (String.prototype as { isWellFormed?: unknown }).isWellFormed;
      try {
        vi.resetModules();
        const { isStorableText: fallback } = await import("../../../src/protocol/json-data.ts");
        expect(fallback).not.toBe(native);
        fc.assert(
          fc.property(fc.string({ unit: "binary", maxLength: 40 }), (text) => {
            expect(fallback(text)).toBe(native(text));
          }),
          { numRuns: 500 },
        );
      } finally {
        if (descriptor) Object.defineProperty(String.prototype, "isWellFormed", descriptor);
      }
    });
  });
});

describe("findDataProblem", () => {
  it(`counts the outermost object or array as level 1 and allows ${MAX_DATA_DEPTH}`, () => {
    expect(findDataProblem(wrapped(MAX_DATA_DEPTH, 1, false))).toBeNull();
    expect(findDataProblem(wrapped(MAX_DATA_DEPTH, 1, true))).toBeNull();
    expect(findDataProblem(wrapped(MAX_DATA_DEPTH, {}, false))?.reason).toMatch(/deeper than 32/);
    expect(findDataProblem(wrapped(MAX_DATA_DEPTH + 1, 1, true))?.reason).toMatch(/deeper/);
    expect(findDataProblem("just a string at the top")).toBeNull();
  });

  it("names the first problem in document order, keys and indexes included", () => {
    expect(fieldOf({ a: ["ok", "\u0000"], b: "\u0000" })).toBe("data.a.1");
    expect(fieldOf({ "bad\ud800key": 1 })).toBe("data.bad\ufffdkey");
    expect(fieldOf({ n: Number.POSITIVE_INFINITY })).toBe("data.n");
    expect(fieldOf("\udfff")).toBe("data");
  });

  it("refuses values JSON has no form for", () => {
    expect(findDataProblem({ f: () => 1 })?.reason).toBe("must be a JSON value");
    expect(findDataProblem({ n: Number.NaN })?.reason).toBe("must be a finite number");
  });
});
