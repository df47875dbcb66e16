// `npm run dev`: the whole gateway on this machine with only Node and npm installed.
// See docs/local-stack.md. One Ctrl-C stops everything; the exit code is wrangler's.

import { resolve } from "node:path";
import { type LocalStack, startLocalStack } from "./local-stack.ts";
import { redactUrl } from "./redact.ts";
import { ensureDevVars } from "./worker-env.ts";

const root = resolve(import.meta.dirname, "..");

function summary(stack: LocalStack): string {
  const pg = stack.postgres;
  const lines = [
    "",
    `  gateway    ${stack.url}   (ws ${stack.url.replace(/^http/, "ws")}/ws/user/?token=…)`,
    `  postgres   ${pg.embedded ? "embedded PGlite" : "DATABASE_URL"} ${redactUrl(pg.url)}` +
      (pg.neonWsProxy ? `  via NEON_WS_PROXY=${pg.neonWsProxy}` : "  (Neon)"),
    `  mirrors    postgres ON, redis ${
      stack.redis.mode === "off"
        ? "OFF (no Redis answered)"
        : `ON via ${stack.redis.mode === "bridge" ? `bridge ${stack.redis.restUrl} → ${redactUrl(stack.redis.redisUrl ?? "")}` : "Upstash"}`
    }`,
    `  env file   ${stack.envFile} (0600; regenerated each start from .dev.vars + environment)`,
    "  token      npm run token -- --user <id>",
    "",
    "  Ctrl-C stops everything.",
    "",
  ];
  return lines.join("\n");
}

async function main(): Promise<number> {
  if (ensureDevVars(root)) {
    console.log(
      "dev: created .dev.vars (0600) from .dev.vars.example (edit it to change settings)",
    );
  }
  const port = Number(process.env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`dev: PORT must be a port number, got ${JSON.stringify(process.env.PORT)}`);
    return 2;
  }

  let stack: LocalStack | undefined;
  let signalled: NodeJS.Signals | undefined;
  let signalledAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      // npm forwards the terminal's SIGINT to us as well: one Ctrl-C can arrive twice.
      if (Date.now() - signalledAt < 1_000) return;
      // A second, deliberate Ctrl-C: do not wait for a graceful shutdown.
      console.error("dev: forced exit");
      if (stack) stack.kill();
      process.exit(130);
    }
    signalled = signal;
    signalledAt = Date.now();
    console.log(`\ndev: ${signal}, stopping…`);
    void stack?.stop(signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    stack = await startLocalStack({
      root,
      port,
      log: (line) => console.log(`dev: ${line}`),
      onWranglerOutput: (line) => console.log(line),
    });
  } catch (err) {
    console.error(`dev: could not start: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  if (signalled) return await stack.stop(signalled);
  console.log(summary(stack));

  // Wrangler ending (crash or signal) ends the stack; its exit code becomes ours.
  const code = await stack.exited;
  await stack.stop();
  if (!signalled) console.error(`dev: wrangler exited with ${code}; stopped the stack`);
  return code;
}

const code = await main();
process.exitCode = code;
// Everything is closed by now; should a stray handle remain, do not hang after Ctrl-C.
setTimeout(() => process.exit(code), 2_000).unref();
