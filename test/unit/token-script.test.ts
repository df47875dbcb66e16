/**
 * `npm run token` (scripts/token.ts): the tokens it mints are what the gateway expects of each
 * kind, a connection token or a subscription token, and never one for the other.
 */
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { verifySubscriptionToken, verifyToken } from "../../src/core/auth.ts";
import { GatewayError } from "../../src/protocol/errors.ts";
import { TEST_JWT_SECRET } from "../helpers/secrets.ts";
import { configWith } from "./helpers/jwt.ts";

const root = resolve(import.meta.dirname, "../..");
const config = configWith();

function mint(...args: string[]): string {
  return execFileSync(process.execPath, ["scripts/token.ts", ...args], {
    cwd: root,
    env: { ...process.env, JWT_SECRET: TEST_JWT_SECRET },
    encoding: "utf8",
  }).trim();
}

describe("npm run token", () => {
  it("mints a connection token that opens connections and grants no subscription", async () => {
    const token = mint("--user", "42", "--groups", "group_a,consultation_*");
    expect(await verifyToken(token, config)).toMatchObject({
      userId: "42",
      groups: ["group_a", "consultation_*"],
    });
    expect(await verifySubscriptionToken(token, config, "42", "group_a")).toBe(false);
  });

  it("mints with --subscription a token for that group only, refused as a connection token", async () => {
    const token = mint("--user", "42", "--subscription", "group_a");
    expect(await verifySubscriptionToken(token, config, "42", "group_a")).toBe(true);
    expect(await verifySubscriptionToken(token, config, "42", "group_b")).toBe(false);
    const refused = await verifyToken(token, config).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(GatewayError);
    expect(refused).toMatchObject({ code: "unauthorized" });
  });
});
