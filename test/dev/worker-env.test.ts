import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEnv } from "node:util";
import { describe, expect, it } from "vitest";
import {
  configFromProcessEnv,
  DEV_VARS_EXAMPLE,
  EnvFileError,
  ensureDevVars,
  exampleSecretsInUse,
  formatEnvLine,
  readVarsFile,
  writeEnvFile,
} from "../../dev/worker-env.ts";

describe("the generated Worker env file", () => {
  it("takes only configuration variables, and only non-empty ones, from the process", () => {
    expect(
      configFromProcessEnv({
        API_KEY: "k",
        DATABASE_URL: "",
        HOME: "/root",
        PATH: "/bin",
        USERS_MANAGED: "false",
      }),
    ).toEqual({ API_KEY: "k", USERS_MANAGED: "false" });
  });

  it("single-quotes values and escapes $ for dotenv-expand", () => {
    expect(formatEnvLine("A", "p$w'd\\n#x")).toBe("A='p\\$w'd\\n#x'");
  });

  it("refuses line breaks and bad names instead of writing a file wrangler would misread", () => {
    expect(() => formatEnvLine("A", "one\ntwo")).toThrow(EnvFileError);
    expect(() => formatEnvLine("A-B", "x")).toThrow(EnvFileError);
    expect(() => formatEnvLine("", "x")).toThrow(EnvFileError);
  });

  it("writes a file readable by its owner only, even over an existing one", () => {
    const dir = mkdtempSync(join(tmpdir(), "worker-env-"));
    const path = join(dir, "worker.env");
    writeFileSync(path, "old", { mode: 0o644 });
    writeEnvFile(path, { JWT_SECRET: "s3cret", URL: "postgres://u:p@h/db?a=1&b=2" });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const parsed = parseEnv(readFileSync(path, "utf8"));
    expect(parsed).toEqual({ JWT_SECRET: "s3cret", URL: "postgres://u:p@h/db?a=1&b=2" });
  });

  it("reads .dev.vars, and nothing when it is missing", () => {
    const dir = mkdtempSync(join(tmpdir(), "dev-vars-"));
    writeFileSync(join(dir, ".dev.vars"), '# comment\nA=1\nB="two words"\n');
    expect(readVarsFile(join(dir, ".dev.vars"))).toEqual({ A: "1", B: "two words" });
    expect(readVarsFile(join(dir, "missing"))).toBeUndefined();
  });
});

describe("ensureDevVars (npm run dev, first run)", () => {
  it("creates .dev.vars from the example, readable by its owner only", () => {
    const dir = mkdtempSync(join(tmpdir(), "dev-vars-"));
    writeFileSync(join(dir, ".dev.vars.example"), "JWT_SECRET=from-example\n", { mode: 0o644 });
    chmodSync(join(dir, ".dev.vars.example"), 0o644);
    expect(ensureDevVars(dir)).toBe(true);
    expect(statSync(join(dir, ".dev.vars")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, ".dev.vars"), "utf8")).toBe("JWT_SECRET=from-example\n");
  });

  it("writes the example too when it is missing, and leaves an existing .dev.vars alone", () => {
    const dir = mkdtempSync(join(tmpdir(), "dev-vars-"));
    expect(ensureDevVars(dir)).toBe(true);
    expect(readFileSync(join(dir, ".dev.vars.example"), "utf8")).toBe(DEV_VARS_EXAMPLE);
    writeFileSync(join(dir, ".dev.vars"), "API_KEY=mine\n");
    expect(ensureDevVars(dir)).toBe(false);
    expect(readFileSync(join(dir, ".dev.vars"), "utf8")).toBe("API_KEY=mine\n");
  });

  it("ships an example whose secrets pass the start-up checks", () => {
    const vars = parseEnv(DEV_VARS_EXAMPLE);
    expect(Buffer.byteLength(vars.JWT_SECRET ?? "")).toBeGreaterThanOrEqual(32);
    expect((vars.API_KEY ?? "").length).toBeGreaterThanOrEqual(32);
    expect(readFileSync(".dev.vars.example", "utf8")).toBe(DEV_VARS_EXAMPLE);
  });
});

describe("exampleSecretsInUse (npm start's warning)", () => {
  const root = mkdtempSync(join(tmpdir(), "example-secrets-"));
  writeFileSync(join(root, ".dev.vars.example"), "JWT_SECRET=public-one\nAPI_KEY=public-key\n");

  it("names the secrets still at the example's public values", () => {
    expect(exampleSecretsInUse({ JWT_SECRET: "public-one", API_KEY: "mine" }, root)).toEqual([
      "JWT_SECRET",
    ]);
    const builtIn = { ...parseEnv(DEV_VARS_EXAMPLE) };
    expect(exampleSecretsInUse({ API_KEY: builtIn.API_KEY ?? "" }, root)).toEqual(["API_KEY"]);
  });

  it("names none when both are the operator's own", () => {
    expect(exampleSecretsInUse({ JWT_SECRET: "own-secret", API_KEY: "own-key" }, root)).toEqual([]);
  });
});
