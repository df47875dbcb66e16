/**
 * Starts `wrangler dev` on a free port for the end-to-end tests and stops it afterwards.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { TestProject } from "vitest/node";
import { freePort } from "../dev/helpers/ports.ts";
import { E2E_VARS } from "../helpers/e2e-config.ts";

declare module "vitest" {
  export interface ProvidedContext {
    gatewayUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "gateway-e2e-"));
  const envFile = join(dir, "vars.env");
  writeFileSync(
    envFile,
    Object.entries(E2E_VARS)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n"),
    { mode: 0o600 },
  );
  const wrangler = join(
    dirname(createRequire(import.meta.url).resolve("wrangler/package.json")),
    "bin/wrangler.js",
  );
  const child = spawn(
    process.execPath,
    [
      wrangler,
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--persist-to",
      join(dir, "state"),
      "--env-file",
      envFile,
      "--show-interactive-dev-session=false",
      "--inspector-port",
      String(await freePort()),
    ],
    {
      env: {
        ...process.env,
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        WRANGLER_SEND_METRICS: "false",
        WRANGLER_HIDE_BANNER: "true",
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
  let log = "";
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes("Ready on")) resolve();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", (code) => reject(new Error(`wrangler dev exited with ${code}:\n${log}`)));
    const timer = setTimeout(
      () => reject(new Error(`wrangler dev not ready in 60 s:\n${log}`)),
      60_000,
    );
    timer.unref();
  });
  await ready;
  project.provide("gatewayUrl", `http://127.0.0.1:${port}`);
  return async () => {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    if (child.pid) {
      try {
        // wrangler dev runs workerd as its own child: signal the whole process group.
        process.kill(-child.pid, "SIGTERM");
      } catch {}
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    child.stdout?.destroy();
    child.stderr?.destroy();
    child.unref();
    rmSync(dir, { recursive: true, force: true });
  };
}
