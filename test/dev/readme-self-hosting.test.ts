/**
 * The README's "Run on your own server" and "Deploy to Cloudflare" sections, checked line by
 * line against the code where a machine can check them: every command is a real script, every
 * variable a real setting, every secret the Worker needs is put with `wrangler secret put` (and
 * none of them is a plain `[vars]` entry), and the paths it names are where `npm start` writes.
 * `npm start` itself is run by serve.test.ts.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseEnv } from "node:util";
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES } from "../../dev/worker-env.ts";
import { DATA_LAYOUT } from "../../dev/workerd-server.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const serveSource = readFileSync(join(ROOT, "dev/serve.ts"), "utf8");
const scripts = Object.keys(
  (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: object }).scripts,
);
/** What `npm start` reads besides the Worker's settings. */
const START_VARIABLES = ["PORT", "HOST", "DATA_DIR", "REDIS_URL"];

/** The text of a `## title` section, up to the next heading of the same level. */
function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README has no "## ${title}" section`);
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The lines of the section's ```sh blocks. */
function shellLines(text: string): string[] {
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) =>
    (m[1] ?? "").split("\n").filter((line) => line.trim() !== ""),
  );
}

/** `NAME=value` assignments in front of a command. */
function assignedNames(line: string): string[] {
  return [...line.matchAll(/(?:^|\s)([A-Z][A-Z0-9_]*)=/g)].map((m) => m[1] ?? "");
}

function checkCommand(line: string): void {
  const command = line.replace(/^(?:[A-Z][A-Z0-9_]*=(?:'[^']*'|\S+)\s+)*/, "");
  const npm = /^npm (?:run (\S+)|(start|test|install))\b/.exec(command);
  if (npm) {
    const script = npm[1] ?? npm[2];
    if (script !== "install") expect(scripts, line).toContain(script);
    return;
  }
  expect(command, `unknown command in the README: ${line}`).toMatch(
    /^npx wrangler (?:login|deploy|secret put [A-Z_]+)$/,
  );
}

/** Secrets: what .dev.vars.example holds and the credentials of the two mirrors. */
const exampleNames = Object.keys(parseEnv(readFileSync(join(ROOT, ".dev.vars.example"), "utf8")));
const SECRETS = [
  ...exampleNames,
  "DATABASE_URL",
  "UPSTASH_REDIS_REST_URL",
  "UPSTASH_REDIS_REST_TOKEN",
  "WEBHOOK_SECRET",
];

function wranglerVars(): string[] {
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const vars = /^\[vars\]\n([\s\S]*?)(?:^\[|(?![\s\S]))/m.exec(toml)?.[1] ?? "";
  return [...vars.matchAll(/^([A-Z][A-Z0-9_]*)\s*=/gm)].map((m) => m[1] ?? "");
}

describe('README "Run on your own server"', () => {
  const text = section("Run on your own server");

  it("runs only real commands, with real settings", () => {
    const lines = shellLines(text);
    expect(lines).toContain("npm start");
    for (const line of lines) {
      checkCommand(line);
      for (const name of assignedNames(line))
        expect([...CONFIG_VARIABLES, ...START_VARIABLES], line).toContain(name);
    }
  });

  it("names the variables npm start reads, each read by dev/serve.ts or the stack", () => {
    for (const name of ["PORT", "HOST", "DATA_DIR"]) {
      expect(text).toContain(`\`${name}\``);
      expect(serveSource).toContain(`process.env.${name}`);
    }
    expect(text).toContain("`REDIS_URL`");
  });

  it("names the directories npm start writes under .data", () => {
    for (const dir of Object.values(DATA_LAYOUT)) expect(text).toContain(`\`.data/${dir}\``);
    expect(serveSource).toContain('join(root, ".data")');
  });
});

describe('README "Deploy to Cloudflare"', () => {
  const lines = shellLines(section("Deploy to Cloudflare"));

  it("runs only real commands, with real settings", () => {
    for (const line of lines) {
      checkCommand(line);
      for (const name of assignedNames(line)) expect(CONFIG_VARIABLES, line).toContain(name);
    }
    expect(lines).toContain("npx wrangler deploy");
    expect(
      lines.some((line) =>
        /^DATABASE_URL='postgres:\/\/\S+neon\.tech\/\S+' npm run migrate$/.test(line),
      ),
    ).toBe(true);
  });

  it("puts every secret with wrangler secret put, and none is a plain [vars] entry", () => {
    const put = lines.flatMap((line) => /^npx wrangler secret put (\S+)$/.exec(line)?.[1] ?? []);
    expect(new Set(put)).toEqual(new Set(SECRETS));
    for (const name of put) expect(CONFIG_VARIABLES).toContain(name);
    const plain = wranglerVars();
    expect(plain.length).toBeGreaterThan(0);
    for (const name of put) expect(plain).not.toContain(name);
  });
});
