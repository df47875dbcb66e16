// The gateway on `workerd serve` (the bench's production-like runner, workerd.ts) with its
// mirrors on: the Neon WebSocket proxy to a Postgres database, the Upstash bridge over a Redis
// (keys under a prefix) and the migrations, as dev/local-stack.ts sets them up for wrangler dev.
// Durable Object storage stays on disk in `workDir`, so the crash test can `kill -9` workerd and
// start it again on the same storage and port, and the soak can read workerd's RSS.
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startNeonProxy } from "../../dev/neon-proxy.ts";
import { startUpstashBridge } from "../../dev/upstash-bridge.ts";
import { migrate } from "../../scripts/migrate.ts";
import { freePort, type ServerProcess, waitForHttp } from "./process.ts";
import { buildWorker, REPO_ROOT, startWorkerd, type WorkerBuild } from "./workerd.ts";

export interface WorkerdStackOptions {
  /** Build, Durable Object storage and logs go here. */
  readonly workDir: string;
  /** An existing, empty Postgres database (migrated here). */
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** REDIS_KEY_PREFIX: every key the gateway writes starts with it. */
  readonly redisKeyPrefix: string;
  readonly jwtSecret: string;
  readonly apiKey: string;
  /** Further Worker vars (e.g. PRESENCE_GRACE_MS). */
  readonly vars?: Readonly<Record<string, string>>;
  /** Every line workerd prints, across restarts. */
  readonly onLine?: (line: string) => void;
}

export interface WorkerdStack {
  /** e.g. "http://127.0.0.1:8123"; the same across restarts. */
  readonly url: string;
  readonly storageDir: string;
  /** The running workerd's process id (changes with each restart). */
  pid(): number;
  /** Resident set size of workerd in bytes (Linux /proc), or null when it is not running. */
  rssBytes(): number | null;
  /** SIGKILL to workerd: no shutdown, no flush, as a machine losing power. */
  kill9(): Promise<void>;
  /** Starts workerd again on the same storage and port; resolves once /health answers. */
  restart(): Promise<void>;
  /** Stops workerd and the mirror helpers. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;
/** Bindings read from workerd's environment, so they never land in the generated config. */
const SECRET_NAMES = ["JWT_SECRET", "API_KEY", "DATABASE_URL", "UPSTASH_REDIS_REST_TOKEN"];

export async function startWorkerdStack(options: WorkerdStackOptions): Promise<WorkerdStack> {
  const buildDir = join(options.workDir, "build");
  const storageDir = join(options.workDir, "storage");
  const logDir = join(options.workDir, "logs");
  mkdirSync(storageDir, { recursive: true });
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    closers.length = 0;
  };
  try {
    const db = new URL(options.databaseUrl);
    const proxy = await startNeonProxy({
      port: 0,
      allowedTargets: [`${db.hostname}:${db.port || 5432}`],
    });
    closers.push(() => proxy.close());
    await migrate(options.databaseUrl, { neonWsProxy: proxy.wsProxy });
    // A fresh token per run: the bridge is reachable by anything on this machine.
    const token = randomBytes(24).toString("base64url");
    const bridge = await startUpstashBridge({ port: 0, token, redisUrl: options.redisUrl });
    closers.push(() => bridge.close());

    const build: WorkerBuild = await buildWorker(
      join(REPO_ROOT, "wrangler.toml"),
      buildDir,
      join(logDir, "build.log"),
    );
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const secrets = {
      JWT_SECRET: options.jwtSecret,
      API_KEY: options.apiKey,
      DATABASE_URL: options.databaseUrl,
      UPSTASH_REDIS_REST_TOKEN: token,
    };
    const vars = {
      ...options.vars,
      NEON_WS_PROXY: proxy.wsProxy,
      UPSTASH_REDIS_REST_URL: bridge.url,
      REDIS_KEY_PREFIX: options.redisKeyPrefix,
    };
    let generation = 0;
    let child: ServerProcess | null = null;
    const launch = async () => {
      generation += 1;
      const started = startWorkerd(build, {
        port,
        storageDir,
        vars,
        secretNames: SECRET_NAMES,
        secrets,
        localNetwork: true,
        configFile: join(buildDir, "workerd.capnp"),
        logFile: join(logDir, `workerd-${generation}.log`),
      });
      if (options.onLine) started.onLine(options.onLine);
      child = started;
      await waitForHttp(`${url}/health`, READY_TIMEOUT_MS, started);
    };
    const running = () => {
      if (child === null || !child.alive) throw new Error("workerd is not running");
      return child;
    };
    closers.push(async () => {
      await child?.stop();
    });
    await launch();
    return {
      url,
      storageDir,
      pid: () => running().pid,
      rssBytes: () => {
        if (child === null || !child.alive) return null;
        try {
          // VmRSS is reported in kB (proc(5)).
          const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
          const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
          return kb === undefined ? null : Number(kb) * 1024;
        } catch {
          return null;
        }
      },
      kill9: async () => {
        const current = running();
        current.kill("SIGKILL");
        await current.exited;
      },
      restart: async () => {
        if (child?.alive) throw new Error("workerd is still running; kill it first");
        await launch();
      },
      stop: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
