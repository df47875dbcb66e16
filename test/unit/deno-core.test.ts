/**
 * The core under Deno: `deno test` on test/deno/core.test.ts (the binary of the npm package
 * `deno`, offline from node_modules). No gateway needed.
 */
import { describe, expect, it } from "vitest";
import { DENO_OFFLINE, deno } from "../helpers/deno.ts";

describe("the core under Deno", () => {
  it("loads every module of src/protocol and src/core, with no node: or cloudflare: import", async () => {
    const run = await deno([
      "test",
      ...DENO_OFFLINE,
      "--allow-read",
      "--allow-write",
      "--allow-run",
      "test/deno/core.test.ts",
    ]);
    expect(run.output).toMatch(/ok \| 3 passed \| 0 failed/);
    expect(run.code, run.output).toBe(0);
  }, 60_000);
});
