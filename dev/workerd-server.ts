// `npm start` as one function: the gateway on `workerd serve` (the Worker bundled by `wrangler
// deploy --dry-run`, nothing in front of it) with the same services as `npm run dev` (embedded
// PGlite unless DATABASE_URL, the Neon proxy, migrations, the Redis mirror through the local
// bridge or straight to Upstash). Durable Object storage lives on disk under `<dataDir>/workerd`
// and survives restarts. Used by dev/serve.ts, the crash test and the soak.
//
// Secrets never reach a file: every setting from .dev.vars, the environment or the services is
// a `fromEnvironment` binding, read by workerd from its own environment at start-up; only
// wrangler.toml's [vars] and `vars` below are written into the generated config.

import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { freePort, type ServerProcess, waitForHttp } from "./server-process.ts";
import {
  type StackConfigOptions,
  type StackServices,
  startStackServices,
} from "./stack-services.ts";
import {
  configFromProcessEnv,
  exampleSecretsInUse,
  readVarsFile,
  type WorkerVars,
} from "./worker-env.ts";
import { buildWorker, startWorkerd, type WorkerBuild } from "./workerd-runtime.ts";

/** Under the data directory: Durable Object storage, the bundle + config, workerd's logs. */
export const DATA_LAYOUT = {
  storage: "workerd/storage",
  build: "workerd/build",
  logs: "workerd/logs",
  /** Embedded Postgres (PGlite), shared with `npm run dev`. */
  pglite: "pglite",
} as const;

export interface WorkerdServerOptions extends StackConfigOptions {
  /** Repository root (wrangler.toml). Default: the folder above dev/. */
  root?: string;
  /** The Worker's wrangler config. Default `<root>/wrangler.toml`. */
  configPath?: string;
  /** Durable Object storage, embedded Postgres, the bundle and logs. Default `<root>/.data`. */
  dataDir?: string;
  /** Port to serve on; 0 picks a free one. Default 8787. */
  port?: number;
  /** Interface to listen on. Default "127.0.0.1". */
  host?: string;
  /** Every line workerd prints, across restarts. Default: only into the log file. */
  onWorkerdOutput?: (line: string) => void;
}

export interface WorkerdServer {
  /** e.g. "http://127.0.0.1:8787"; the same across restarts. */
  url: string;
  port: number;
  /** Durable Object storage (SQLite files), kept across restarts. */
  storageDir: string;
  /** The bundle and the generated workerd config (no secrets in it). */
  buildDir: string;
  /** workerd's output, one file per start. */
  logDir: string;
  postgres: StackServices["postgres"];
  redis: StackServices["redis"];
  /** Names of the bindings read from workerd's environment (their values are never written). */
  secretNames: readonly string[];
  /** JWT_SECRET / API_KEY still at the public example values of .dev.vars.example. */
  exampleSecrets: readonly string[];
  /** The running workerd's process id (changes with each restart). */
  pid(): number;
  /** Resident set size of workerd in bytes (Linux /proc), or null when it is not running. */
  rssBytes(): number | null;
  /** Resolves with workerd's exit code (null: killed by a signal) when the current one ends. */
  exited(): Promise<number | null>;
  /** SIGKILL to workerd: no shutdown, no flush, as a machine losing power. */
  kill9(): Promise<void>;
  /** Starts workerd again on the same storage and port; resolves once /health answers. */
  restart(): Promise<void>;
  /** SIGTERM to workerd (SIGKILL after 5 s), then the services. Idempotent. */
  stop(): Promise<void>;
  /** Last resort before exiting: SIGKILL to workerd, synchronously. */
  kill(): void;
}

export async function startWorkerdServer(
  options: WorkerdServerOptions = {},
): Promise<WorkerdServer> {
  const root = resolve(options.root ?? join(import.meta.dirname, ".."));
  const configPath = resolve(options.configPath ?? join(root, "wrangler.toml"));
  const dataDir = resolve(options.dataDir ?? join(root, ".data"));
  const log = options.log ?? (() => {});
  const env = options.env ?? process.env;
  const devVars = options.devVars ?? readVarsFile(join(dirname(configPath), ".dev.vars")) ?? {};
  const settings: WorkerVars = { ...devVars, ...configFromProcessEnv(env) };
  const redisUrl =
    options.redisUrl ?? env.REDIS_URL ?? devVars.REDIS_URL ?? "redis://127.0.0.1:6379";
  const storageDir = join(dataDir, DATA_LAYOUT.storage);
  const buildDir = join(dataDir, DATA_LAYOUT.build);
  const logDir = join(dataDir, DATA_LAYOUT.logs);
  mkdirSync(storageDir, { recursive: true });
  mkdirSync(logDir, { recursive: true });

  const services = await startStackServices({ dataDir, settings, redisUrl, log });
  let child: ServerProcess | null = null;
  try {
    log("workerd: bundling with wrangler deploy --dry-run");
    const build: WorkerBuild = await buildWorker(configPath, buildDir, join(logDir, "build.log"));
    const port = options.port === 0 ? await freePort() : (options.port ?? 8787);
    const host = options.host ?? "127.0.0.1";
    const url = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
    const secrets: WorkerVars = { ...services.workerVars };
    for (const name of Object.keys(options.vars ?? {})) delete secrets[name];
    const secretNames = Object.keys(secrets);
    const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;

    let generation = 0;
    const launch = async () => {
      generation += 1;
      const started = startWorkerd(build, {
        port,
        host,
        storageDir,
        vars: options.vars,
        secretNames,
        secrets,
        // The services (Neon proxy, Upstash bridge) listen on loopback.
        localNetwork: true,
        configFile: join(buildDir, "workerd.capnp"),
        logFile: join(logDir, `workerd-${generation}.log`),
      });
      child = started;
      if (options.onWorkerdOutput) started.onLine(options.onWorkerdOutput);
      await waitForHttp(`${url}/health`, readyTimeoutMs, started);
    };
    const running = (): ServerProcess => {
      if (child === null || !child.alive) throw new Error("workerd is not running");
      return child;
    };
    await launch();

    let stopping: Promise<void> | undefined;
    return {
      url,
      port,
      storageDir,
      buildDir,
      logDir,
      postgres: services.postgres,
      redis: services.redis,
      secretNames,
      exampleSecrets: exampleSecretsInUse(settings, root),
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
      exited: () => (child === null ? Promise.resolve(null) : child.exited),
      kill9: async () => {
        const current = running();
        current.kill("SIGKILL");
        await current.exited;
      },
      restart: async () => {
        if (child?.alive) throw new Error("workerd is still running; stop or kill it first");
        await launch();
      },
      stop: () => {
        stopping ??= (async () => {
          await child?.stop();
          await services.close();
        })();
        return stopping;
      },
      kill: () => child?.kill("SIGKILL"),
    };
  } catch (err) {
    await (child as ServerProcess | null)?.stop();
    await services.close();
    throw err;
  }
}
