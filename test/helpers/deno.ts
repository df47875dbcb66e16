/** Runs the `deno` binary of the npm package `deno` (node_modules/.bin/deno) in the project root. */
import { spawn } from "node:child_process";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "../..");

/**
 * Flags for running the project's Deno tests offline: modules come from node_modules
 * (test/deno/deno.json: nodeModulesDir "manual"), never from a registry.
 */
export const DENO_OFFLINE = ["--config=test/deno/deno.json", "--no-remote", "--cached-only"];

/** Resolves with the exit code and the interleaved stdout and stderr. */
export function deno(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(resolve(root, "node_modules/.bin/deno"), args, {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("error", fail);
    child.on("close", (code) => done({ code, output }));
  });
}
