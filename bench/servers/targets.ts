// Every server the bench can measure, with how to start it on a free loopback port and how
// to drive it. Each start() returns a running server whose stop() kills its whole process tree.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import {
  freePort,
  ServerProcess as Process,
  type ServerProcess,
  waitForHttp,
} from "../../dev/server-process.ts";
import { type StackServices, startStackServices } from "../../dev/stack-services.ts";
import {
  buildWorker,
  OFFLINE_ENV,
  REPO_ROOT,
  startWorkerd,
  wranglerCommand,
} from "../../dev/workerd-runtime.ts";
import type { ServerAdapter, ServerCapabilities } from "../driver/adapter.ts";
import { GatewayProtocolAdapter } from "../driver/gateway-adapter.ts";
import { SocketIoAdapter } from "../driver/socketio-adapter.ts";

export type Runtime = "node" | "wrangler dev" | "workerd";

export interface StartContext {
  readonly secret: string;
  readonly apiKey: string;
  /** Scratch directory of this run (logs, builds, storage); not committed. */
  readonly workDir: string;
  /** Extra vars for the project (`--project-var NAME=VALUE`). */
  readonly projectVars: Readonly<Record<string, string>>;
  /** Start workerd with its DevTools inspector on a free port, for profiling. */
  readonly inspect: boolean;
  readonly log: (line: string) => void;
}

export interface RunningServer {
  readonly process: ServerProcess;
  readonly httpBase: string;
  readonly adapter: ServerAdapter;
  /** Milliseconds from spawning to ready. */
  readonly startupMs: number;
  readonly notes: readonly string[];
  /** Events during the run that invalidate it (e.g. wrangler dev reloading the Worker). */
  disturbances(): string[];
  stop(): Promise<void>;
}

export interface ServerTarget {
  readonly id: string;
  readonly label: string;
  /** The project's own gateway, or a reference to compare it with. */
  readonly kind: "project" | "reference";
  readonly runtime: Runtime;
  /** The project server this one's ratios are computed against (default: the report's project). */
  readonly comparedWith?: string;
  /** Why this server cannot run here, or null. */
  unavailable(): Promise<string | null>;
  start(context: StartContext): Promise<RunningServer>;
}

const READY_TIMEOUT_MS = 90_000;
const DO_RELAY_CONFIG = join(REPO_ROOT, "bench/do-relay/wrangler.toml");
const PROJECT_CONFIG = join(REPO_ROOT, "wrangler.toml");
const PROJECT_ENTRY = join(REPO_ROOT, "src/worker.ts");

const everything = { groups: true, broadcast: true };
/** The gateway: everything, and room sockets. */
const gateway = { ...everything, roomSockets: true };
/** The gateway's bench build: it counts its billed work (src/workers/meter.ts). */
const BENCH_VARS = { BENCH_METER: "true" };
const dmOnly = { groups: false, broadcast: false };

function projectMissing(): string | null {
  const missing = [PROJECT_CONFIG, PROJECT_ENTRY].filter((path) => !existsSync(path));
  return missing.length === 0
    ? null
    : `the project is not built yet (${missing.map((p) => p.slice(REPO_ROOT.length + 1)).join(" and ")} missing)`;
}

function redisReachable(host = "127.0.0.1", port = 6379): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

async function startNodeScript(
  id: string,
  script: string,
  context: StartContext,
  makeAdapter: (httpBase: string) => ServerAdapter,
  env: Record<string, string> = {},
): Promise<RunningServer> {
  const started = performance.now();
  const child = new Process({
    command: process.execPath,
    args: [join(REPO_ROOT, script)],
    env: { JWT_SECRET: context.secret, API_KEY: context.apiKey, PORT: "0", ...env },
    logFile: join(context.workDir, "logs", `${id}.log`),
  });
  try {
    const match = await child.waitForLine(/^READY (\d+)$/, READY_TIMEOUT_MS);
    const httpBase = `http://127.0.0.1:${match[1]}`;
    return {
      process: child,
      httpBase,
      adapter: makeAdapter(httpBase),
      startupMs: performance.now() - started,
      notes: [],
      disturbances: () => [],
      stop: () => child.stop(),
    };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

async function startWranglerDev(
  id: string,
  configPath: string,
  context: StartContext,
  vars: Record<string, string>,
  capabilities: ServerCapabilities,
): Promise<RunningServer> {
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const persistDir = join(context.workDir, "state", id);
  mkdirSync(persistDir, { recursive: true });
  const varArgs = Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
  const { command, args } = wranglerCommand([
    "dev",
    "--config",
    configPath,
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    persistDir,
    "--show-interactive-dev-session=false",
    ...varArgs,
  ]);
  const started = performance.now();
  const child = new Process({
    command,
    args,
    env: OFFLINE_ENV,
    cwd: REPO_ROOT,
    logFile: join(context.workDir, "logs", `${id}.log`),
  });
  try {
    await child.waitForLine(/Ready on http:\/\//, READY_TIMEOUT_MS);
    // wrangler dev rebuilds and restarts the Worker when a file it watches changes (sources,
    // wrangler.toml, tsconfig.json, package.json), dropping every socket.
    let reloads = 0;
    child.onLine((line) => {
      if (line.includes("Reloading local server")) reloads++;
    });
    const httpBase = `http://127.0.0.1:${port}`;
    return {
      process: child,
      httpBase,
      adapter: new GatewayProtocolAdapter({ httpBase, apiKey: context.apiKey, capabilities }),
      startupMs: performance.now() - started,
      notes: context.inspect ? [`wrangler dev inspector on 127.0.0.1:${inspectorPort}`] : [],
      disturbances: () =>
        reloads === 0
          ? []
          : [
              `wrangler dev reloaded the Worker ${reloads}× during the run because a file it watches changed (sources, wrangler.toml, tsconfig.json, package.json); that drops every socket`,
            ],
      stop: () => child.stop(),
    };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/**
 * Where Durable Object storage goes: "disk", the run's scratch directory (SQLite files on the
 * machine's disk, as `wrangler dev` and `workerd serve` keep them), or "ram", a directory on
 * tmpfs (/dev/shm): the same SQLite files, but a commit's fsync costs nothing. Local workerd
 * runs every object on one thread and that fsync blocks it, so "ram" shows what the code costs
 * without this machine's disk.
 */
type Storage = "disk" | "ram";
const RAM_ROOT = "/dev/shm";

function ramMissing(): string | null {
  return existsSync(RAM_ROOT) ? null : `no ${RAM_ROOT} (tmpfs) on this machine`;
}

/**
 * The gateway's mirrors as `npm start` runs them (dev/stack-services.ts): Postgres at
 * DATABASE_URL when the bench's environment sets it, else embedded PGlite, behind the Neon
 * proxy, migrated; Redis through the local Upstash bridge over 127.0.0.1:6379, under a key
 * prefix of this run.
 */
async function startMirrors(id: string, context: StartContext): Promise<StackServices> {
  const dataDir = join(context.workDir, "state", id, "services");
  mkdirSync(dataDir, { recursive: true });
  const settings: Record<string, string> = {
    REDIS_KEY_PREFIX: `bench:${id}:${Date.now().toString(36)}:`,
  };
  if (process.env.DATABASE_URL) settings.DATABASE_URL = process.env.DATABASE_URL;
  return startStackServices({
    dataDir,
    settings,
    redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    log: (line) => context.log(`${id}: ${line}`),
  });
}

async function startProductionLike(
  id: string,
  configPath: string,
  context: StartContext,
  vars: Record<string, string>,
  secrets: Record<string, string>,
  capabilities: ServerCapabilities,
  storage: Storage = "disk",
  mirrors = false,
): Promise<RunningServer> {
  const buildDir = join(context.workDir, "build", id);
  const storageDir =
    storage === "ram"
      ? mkdtempSync(join(RAM_ROOT, `realtime-bench-${id}-`))
      : join(context.workDir, "state", id);
  mkdirSync(storageDir, { recursive: true });
  const removeRamStorage = () => {
    if (storage === "ram") rmSync(storageDir, { recursive: true, force: true });
  };
  context.log(`${id}: bundling with wrangler deploy --dry-run`);
  const build = await buildWorker(
    configPath,
    buildDir,
    join(context.workDir, "logs", `${id}.build.log`),
  );
  const port = await freePort();
  const inspectorPort = context.inspect ? await freePort() : undefined;
  const services = mirrors ? await startMirrors(id, context) : null;
  const allSecrets = { ...services?.workerVars, ...secrets };
  const stopServices = async () => {
    await services?.close();
  };
  const started = performance.now();
  const child = startWorkerd(build, {
    port,
    storageDir,
    vars,
    secretNames: Object.keys(allSecrets),
    secrets: allSecrets,
    localNetwork: services !== null,
    inspectorPort,
    configFile: join(buildDir, "workerd.capnp"),
    logFile: join(context.workDir, "logs", `${id}.log`),
  });
  const httpBase = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${httpBase}/health`, READY_TIMEOUT_MS, child);
    return {
      process: child,
      httpBase,
      adapter: new GatewayProtocolAdapter({ httpBase, apiKey: context.apiKey, capabilities }),
      startupMs: performance.now() - started,
      notes: [
        ...(services === null
          ? []
          : [
              `mirrors on: Redis ${services.redis.mode}, Postgres ${services.postgres.embedded ? "embedded PGlite" : "DATABASE_URL"}`,
            ]),
        ...(storage === "ram" ? [`Durable Object storage on tmpfs (${RAM_ROOT})`] : []),
        ...(inspectorPort === undefined ? [] : [`workerd inspector on 127.0.0.1:${inspectorPort}`]),
      ],
      disturbances: () => [],
      stop: async () => {
        await child.stop();
        await stopServices();
        removeRamStorage();
      },
    };
  } catch (error) {
    await child.stop();
    await stopServices();
    removeRamStorage();
    throw error;
  }
}

export const TARGETS: readonly ServerTarget[] = [
  {
    id: "gateway-workerd",
    label: "gateway · workerd",
    kind: "project",
    runtime: "workerd",
    unavailable: async () => projectMissing(),
    start: (context) =>
      startProductionLike(
        "gateway-workerd",
        PROJECT_CONFIG,
        context,
        { ...BENCH_VARS, ...context.projectVars },
        { JWT_SECRET: context.secret, API_KEY: context.apiKey },
        gateway,
        "disk",
        true,
      ),
  },
  {
    id: "gateway-workerd-ram",
    label: "gateway · workerd, storage in RAM",
    kind: "project",
    runtime: "workerd",
    unavailable: async () => projectMissing() ?? ramMissing(),
    start: (context) =>
      startProductionLike(
        "gateway-workerd-ram",
        PROJECT_CONFIG,
        context,
        { ...BENCH_VARS, ...context.projectVars },
        { JWT_SECRET: context.secret, API_KEY: context.apiKey },
        gateway,
        "ram",
        true,
      ),
  },
  {
    id: "gateway-wrangler-dev",
    label: "gateway · wrangler dev",
    kind: "project",
    runtime: "wrangler dev",
    unavailable: async () => projectMissing(),
    start: (context) =>
      startWranglerDev(
        "gateway-wrangler-dev",
        PROJECT_CONFIG,
        context,
        {
          ...BENCH_VARS,
          ...context.projectVars,
          JWT_SECRET: context.secret,
          API_KEY: context.apiKey,
        },
        gateway,
      ),
  },
  {
    id: "do-relay-workerd",
    label: "DO relay · workerd",
    kind: "reference",
    runtime: "workerd",
    unavailable: async () => null,
    start: (context) =>
      startProductionLike(
        "do-relay-workerd",
        DO_RELAY_CONFIG,
        context,
        {},
        { JWT_SECRET: context.secret },
        dmOnly,
      ),
  },
  {
    id: "do-relay-workerd-ram",
    label: "DO relay · workerd, storage in RAM",
    kind: "reference",
    runtime: "workerd",
    comparedWith: "gateway-workerd-ram",
    unavailable: async () => ramMissing(),
    start: (context) =>
      startProductionLike(
        "do-relay-workerd-ram",
        DO_RELAY_CONFIG,
        context,
        {},
        { JWT_SECRET: context.secret },
        dmOnly,
        "ram",
      ),
  },
  {
    id: "do-relay-wrangler-dev",
    label: "DO relay · wrangler dev",
    kind: "reference",
    runtime: "wrangler dev",
    unavailable: async () => null,
    start: (context) =>
      startWranglerDev(
        "do-relay-wrangler-dev",
        DO_RELAY_CONFIG,
        context,
        { JWT_SECRET: context.secret },
        dmOnly,
      ),
  },
  {
    id: "node-ws-relay",
    label: "Node ws relay",
    kind: "reference",
    runtime: "node",
    unavailable: async () => null,
    start: (context) =>
      startNodeScript(
        "node-ws-relay",
        "bench/servers/ws-relay.ts",
        context,
        (httpBase) =>
          new GatewayProtocolAdapter({
            httpBase,
            apiKey: context.apiKey,
            capabilities: everything,
          }),
      ),
  },
  {
    id: "socketio-redis",
    label: "Socket.IO + Redis",
    kind: "reference",
    runtime: "node",
    unavailable: async () => ((await redisReachable()) ? null : "no Redis on 127.0.0.1:6379"),
    start: (context) =>
      startNodeScript(
        "socketio-redis",
        "bench/servers/socketio-server.ts",
        context,
        (httpBase) => new SocketIoAdapter(httpBase, context.apiKey),
        { REDIS_URL: "redis://127.0.0.1:6379" },
      ),
  },
];
