/**
 * The SDKs under Deno: `deno test` on test/deno/sdk.test.ts (the binary of the npm package
 * `deno`, offline) against this run's gateway, and the README's Deno example.
 */
import { describe, expect, it } from "vitest";
import { DENO_OFFLINE, deno } from "../helpers/deno.ts";
import { gatewayUrl } from "./helpers.ts";

describe("Deno", () => {
  it("passes the client and server SDK tests, run with deno test against the gateway", async () => {
    const run = await deno(
      [
        "test",
        ...DENO_OFFLINE,
        "--allow-net",
        "--allow-env",
        "--allow-read",
        // The README example: written to a temporary file and run with `deno run`.
        "--allow-write",
        "--allow-run",
        "test/deno/sdk.test.ts",
      ],
      { GATEWAY_URL: gatewayUrl() },
    );
    expect(run.output).toMatch(/ok \| 3 passed \| 0 failed/);
    expect(run.code, run.output).toBe(0);
  }, 90_000);
});
