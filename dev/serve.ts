// `npm start`: the gateway as it runs in production, on this one machine: the Worker bundled as
// `wrangler deploy` uploads it, on `workerd serve` with nothing in front, Durable Object storage
// under .data/workerd (kept across restarts), and the same services as `npm run dev`. See
// README "Run on your own server". One Ctrl-C (or SIGTERM) stops everything; exit code 0 then.
//
// Environment: PORT (default 8787), HOST (default 127.0.0.1), DATA_DIR (default <repo>/.data),
// and every setting of .dev.vars (the environment wins), e.g. DATABASE_URL, REDIS_URL,
// UPSTASH_REDIS_REST_URL.

import { join, resolve } from "node:path";
import { redactUrl } from "./redact.ts";
import { ensureDevVars } from "./worker-env.ts";
import { startWorkerdServer, type WorkerdServer } from "./workerd-server.ts";

const root = resolve(import.meta.dirname, "..");

function summary(server: WorkerdServer, dataDir: string): string {
  const pg = server.postgres;
  const redis = server.redis;
  return [
    "",
    `  gateway    ${server.url}   (ws ${server.url.replace(/^http/, "ws")}/ws/user/?token=…)`,
    `  runtime    workerd serve (pid ${server.pid()}), nothing in front; logs in ${server.logDir}`,
    `  storage    ${server.storageDir} (Durable Objects, kept across restarts)`,
    `  postgres   ${pg.embedded ? `embedded PGlite in ${join(dataDir, "pglite")}` : "DATABASE_URL"} ${redactUrl(pg.url)}` +
      (pg.neonWsProxy ? `  via NEON_WS_PROXY=${pg.neonWsProxy}` : "  (Neon)"),
    `  mirrors    postgres ON, redis ${
      redis.mode === "off"
        ? "OFF (no Redis answered)"
        : `ON via ${redis.mode === "bridge" ? `bridge ${redis.restUrl} → ${redactUrl(redis.redisUrl ?? "")}` : "Upstash"}`
    }`,
    `  secrets    ${server.secretNames.length} settings passed in workerd's environment, none written to disk`,
    "  token      npm run token -- --user <id>",
    "",
    "  Ctrl-C stops everything.",
    "",
  ].join("\n");
}

async function main(): Promise<number> {
  if (ensureDevVars(root)) {
    console.log(
      "start: created .dev.vars (0600) from .dev.vars.example (edit it to change settings)",
    );
  }
  const port = Number(process.env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`start: PORT must be a port number, got ${JSON.stringify(process.env.PORT)}`);
    return 2;
  }
  const dataDir = resolve(process.env.DATA_DIR || join(root, ".data"));

  let server: WorkerdServer | undefined;
  let signalled: NodeJS.Signals | undefined;
  let signalledAt = 0;
  let stopped: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      // npm forwards the terminal's SIGINT to us as well: one Ctrl-C can arrive twice.
      if (Date.now() - signalledAt < 1_000) return;
      // A second, deliberate Ctrl-C: do not wait for a graceful shutdown.
      console.error("start: forced exit");
      server?.kill();
      process.exit(130);
    }
    signalled = signal;
    signalledAt = Date.now();
    console.log(`\nstart: ${signal}, stopping…`);
    stopped = server?.stop();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // Under `npm start`, a SIGTERM sent to npm reaches only npm's `sh -c`, which dies without
  // passing it on: we would be orphaned with workerd still serving. Treat losing the parent as
  // the SIGTERM it stands for. Checked each second; not under `node dev/serve.ts` (nohup etc.).
  if (process.env.npm_lifecycle_event === "start") {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent && !signalled) onSignal("SIGTERM");
    }, 1_000).unref();
  }

  try {
    server = await startWorkerdServer({
      root,
      dataDir,
      port,
      host: process.env.HOST || "127.0.0.1",
      log: (line) => console.log(`start: ${line}`),
      onWorkerdOutput: (line) => console.log(line),
    });
  } catch (err) {
    console.error(`start: could not start: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  if (signalled) {
    await server.stop();
    console.log("start: stopped");
    return 0;
  }
  console.log(summary(server, dataDir));
  if (server.exampleSecrets.length > 0) {
    console.warn(
      `start: WARNING: ${server.exampleSecrets.join(" and ")} still hold the public example values ` +
        "of .dev.vars.example: anyone can mint tokens or call the API. Set your own (environment or .dev.vars) before this server is reachable from elsewhere.",
    );
  }

  // workerd ending on its own ends the stack with an error; after a signal, stopping is success.
  const code = await server.exited();
  if (signalled) {
    await stopped;
    console.log("start: stopped");
    return 0;
  }
  await server.stop();
  console.error(`start: workerd exited with ${code}; stopped the stack`);
  return 1;
}

const code = await main();
process.exitCode = code;
// Everything is closed by now; should a stray handle remain, do not hang after Ctrl-C.
setTimeout(() => process.exit(code), 2_000).unref();
