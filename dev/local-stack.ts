// The local stack as one function, for `npm run dev` (dev/start.ts) and for test setups that need
// a running gateway: Postgres (given, or embedded PGlite), the Neon WebSocket proxy, the Upstash
// bridge over a real Redis (or the Redis mirror off), migrations (stack-services.ts, shared with
// `npm start`), then `wrangler dev`.

import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import {
  LocalStackError,
  type RedisMirrorMode,
  type StackConfigOptions,
  type StackFaults,
  type StackServices,
  startStackServices,
} from "./stack-services.ts";
import { configFromProcessEnv, readVarsFile, type WorkerVars, writeEnvFile } from "./worker-env.ts";
import { startWranglerDev } from "./wrangler-dev.ts";

export interface LocalStackOptions extends StackConfigOptions {
  /** Repository root (node_modules, wrangler.toml). Default: the folder above dev/. */
  root?: string;
  /** The Worker's wrangler config. Default `<root>/wrangler.toml`. */
  configPath?: string;
  /** Embedded Postgres data and the generated env file live here. Default `<root>/.data`. */
  dataDir?: string;
  /** wrangler --persist-to (Durable Object storage). Default `<dataDir>/wrangler`. */
  persistTo?: string;
  /** Port for wrangler dev; 0 picks a free one. Default 8787. */
  port?: number;
  /** Ports of the helpers; 0 (the default) picks free ones. */
  ports?: { postgres?: number; neonProxy?: number; upstashBridge?: number };
  /** Lines printed by wrangler and the Worker. Default: silent. */
  onWranglerOutput?: (line: string) => void;
}

export interface LocalStack extends Pick<StackServices, "postgres" | "redis"> {
  /** The gateway, e.g. "http://127.0.0.1:8787". */
  url: string;
  port: number;
  /** Every var the Worker was started with (secrets included: for tests, never for logs). */
  workerVars: WorkerVars;
  /** The generated env file passed with --env-file (mode 0600). */
  envFile: string;
  /** Resolves with wrangler's exit code if it ends (on its own or by stop()). */
  exited: Promise<number>;
  /** Stops wrangler, then the helpers; resolves with wrangler's exit code. Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<number>;
  /** Last resort before exiting: SIGKILL to wrangler and its workerd, nothing else. */
  kill(): void;
  /** Taking the stack's own pieces away and back, for fault tests. */
  faults: LocalStackFaults;
}

export type LocalStackFaults = StackFaults;
export { LocalStackError, type RedisMirrorMode };

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const root = resolve(options.root ?? join(import.meta.dirname, ".."));
  const configPath = resolve(options.configPath ?? join(root, "wrangler.toml"));
  const dataDir = resolve(options.dataDir ?? join(root, ".data"));
  const persistTo = resolve(options.persistTo ?? join(dataDir, "wrangler"));
  const log = options.log ?? (() => {});
  const env = options.env ?? process.env;
  const devVars = options.devVars ?? readVarsFile(join(dirname(configPath), ".dev.vars")) ?? {};
  const settings: WorkerVars = { ...devVars, ...configFromProcessEnv(env) };
  const redisUrl =
    options.redisUrl ?? env.REDIS_URL ?? devVars.REDIS_URL ?? "redis://127.0.0.1:6379";
  mkdirSync(dataDir, { recursive: true });

  const services = await startStackServices({
    dataDir,
    settings,
    redisUrl,
    ports: options.ports,
    log,
  });
  try {
    const { postgres, redis, faults } = services;
    const workerVars: WorkerVars = { ...services.workerVars, ...options.vars };
    const envFile = join(dataDir, "worker.env");
    writeEnvFile(envFile, workerVars);

    const wrangler = await startWranglerDev({
      cwd: root,
      configPath,
      port: options.port ?? 8787,
      persistTo,
      envFile,
      onOutput: options.onWranglerOutput,
      readyTimeoutMs: options.readyTimeoutMs,
    });

    let stopping: Promise<number> | undefined;
    const stop = (signal: NodeJS.Signals = "SIGTERM") => {
      stopping ??= (async () => {
        const code = await wrangler.stop(signal);
        await services.close();
        return code;
      })();
      return stopping;
    };

    return {
      url: wrangler.url,
      port: wrangler.port,
      postgres,
      redis,
      workerVars,
      envFile,
      exited: wrangler.exited,
      stop,
      kill: () => wrangler.kill(),
      faults,
    };
  } catch (err) {
    await services.close();
    throw err;
  }
}
