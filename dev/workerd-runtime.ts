// The production-like local runtime: the Worker as `wrangler deploy` would upload it, served
// by `workerd serve` with a generated config, with nothing in front of it. Under `wrangler
// dev` every request and every WebSocket frame first crosses a proxy Worker in a second
// workerd process (and Miniflare's entry Worker); on Cloudflare the Worker gets the
// connection directly, as here.
//   1. `wrangler deploy --dry-run --outdir DIR` bundles exactly what would be deployed;
//   2. the wrangler config (read with wrangler's own reader) becomes a workerd config:
//      vars, Durable Object namespaces (SQLite-backed when a migration says so) stored on
//      local disk, compatibility date and flags;
//   3. secrets are bindings `fromEnvironment`, so they never land in a file.
// One launcher for `npm start` (workerd-server.ts, with the mirrors), the bench's workerd rows
// (bench/servers/targets.ts) and the crash and soak runs (through workerd-server.ts).
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import { ServerProcess } from "./server-process.ts";

export const REPO_ROOT = resolve(import.meta.dirname, "..");
const WRANGLER_BIN = join(REPO_ROOT, "node_modules/wrangler/bin/wrangler.js");
const WORKERD_BIN = join(REPO_ROOT, "node_modules/@cloudflare/workerd-linux-64/bin/workerd");

/** Environment that keeps wrangler and Miniflare offline (CONVENTIONS.md). */
export const OFFLINE_ENV = {
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_HIDE_BANNER: "true",
};

export function wranglerCommand(args: readonly string[]): { command: string; args: string[] } {
  return { command: process.execPath, args: [WRANGLER_BIN, ...args] };
}

interface WorkerModule {
  readonly name: string;
  readonly kind: "esModule" | "wasm";
}

export interface WorkerBuild {
  readonly name: string;
  readonly outDir: string;
  readonly modules: readonly WorkerModule[];
  readonly compatibilityDate: string;
  readonly compatibilityFlags: readonly string[];
  readonly vars: Readonly<Record<string, unknown>>;
  /** Binding name -> class name. */
  readonly durableObjects: ReadonlyArray<{ binding: string; className: string }>;
  readonly sqliteClasses: ReadonlySet<string>;
}

/** Binding kinds this runner does not translate; a config using one is refused by name. */
const UNSUPPORTED = [
  "kv_namespaces",
  "r2_buckets",
  "d1_databases",
  "services",
  "queues",
  "hyperdrive",
  "vectorize",
  "analytics_engine_datasets",
  "workflows",
  "send_email",
  "ai",
  "browser",
  "images",
  "version_metadata",
  "dispatch_namespaces",
  "mtls_certificates",
  "wasm_modules",
  "text_blobs",
  "data_blobs",
  "ratelimits",
  "containers",
] as const;

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === "object") return Object.values(value).every(isEmpty);
  return false;
}

/** Bundles the Worker of `configPath` into `outDir` and reads its configuration. */
export async function buildWorker(
  configPath: string,
  outDir: string,
  logFile: string,
): Promise<WorkerBuild> {
  rmSync(outDir, { recursive: true, force: true });
  const { command, args } = wranglerCommand([
    "deploy",
    "--dry-run",
    "--outdir",
    outDir,
    "--config",
    configPath,
  ]);
  const build = new ServerProcess({ command, args, env: OFFLINE_ENV, cwd: REPO_ROOT, logFile });
  const code = await build.exited;
  if (code !== 0) throw new Error(`wrangler deploy --dry-run failed (${code}):\n${build.tail}`);

  const config = await readWranglerConfig(configPath);
  const files = readdirSync(outDir);
  const mainName = `${basename(config.main, extname(config.main))}.js`;
  const scripts = files.filter((f) => f.endsWith(".js") || f.endsWith(".mjs"));
  if (!scripts.includes(mainName))
    throw new Error(`no ${mainName} in ${outDir} (found ${files.join(", ")})`);
  const modules: WorkerModule[] = [
    { name: mainName, kind: "esModule" },
    ...scripts.filter((f) => f !== mainName).map((name) => ({ name, kind: "esModule" as const })),
    ...files.filter((f) => f.endsWith(".wasm")).map((name) => ({ name, kind: "wasm" as const })),
  ];
  return { ...config, outDir, modules };
}

type WranglerSettings = Omit<WorkerBuild, "outDir" | "modules"> & { readonly main: string };

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function strings(value: unknown): string[] {
  return list(value).filter((item): item is string => typeof item === "string");
}

/** Reads a wrangler config with wrangler's own reader and keeps what workerd needs. */
async function readWranglerConfig(configPath: string): Promise<WranglerSettings> {
  const { unstable_readConfig } = await import("wrangler");
  const config: Record<string, unknown> = record(
    unstable_readConfig({ config: configPath }, { hideWarnings: true }),
  );
  const unsupported = UNSUPPORTED.filter((key) => !isEmpty(config[key]));
  if (unsupported.length > 0)
    throw new Error(`the workerd runner does not translate: ${unsupported.join(", ")}`);
  const durableObjects = list(record(config.durable_objects).bindings).map((raw) => {
    const b = record(raw);
    if (typeof b.name !== "string" || typeof b.class_name !== "string")
      throw new Error("bad durable_objects binding");
    if (b.script_name)
      throw new Error(
        `Durable Object ${b.name} lives in another script (${String(b.script_name)})`,
      );
    return { binding: b.name, className: b.class_name };
  });
  if (typeof config.main !== "string") throw new Error(`${configPath} has no main`);
  return {
    name: typeof config.name === "string" ? config.name : "worker",
    main: config.main,
    compatibilityDate:
      typeof config.compatibility_date === "string" ? config.compatibility_date : "2026-11-01",
    compatibilityFlags: strings(config.compatibility_flags),
    vars: record(config.vars),
    durableObjects,
    sqliteClasses: new Set(
      list(config.migrations).flatMap((m) => strings(record(m).new_sqlite_classes)),
    ),
  };
}

const capnpText = (value: string) => JSON.stringify(value);

export interface WorkerdServeOptions {
  readonly port: number;
  /** Interface to listen on. Default "127.0.0.1" (this machine only). */
  readonly host?: string;
  /** Directory for Durable Object storage (SQLite files). */
  readonly storageDir: string;
  /** Vars added to (or replacing) the config's; plain text, visible in the config file. */
  readonly vars?: Readonly<Record<string, string>>;
  /** Names of bindings read from workerd's environment (secrets). */
  readonly secretNames: readonly string[];
  /** workerd's DevTools inspector, for profiling. */
  readonly inspectorPort?: number;
  /**
   * Let the Worker's fetches and sockets reach loopback and private addresses (the local mirror
   * helpers: Neon proxy, Upstash bridge). workerd's default outbound allows public addresses only.
   * Default false.
   */
  readonly localNetwork?: boolean;
}

/** The workerd config (capnp text) serving `build` on `host`:`port`. Secrets are not in it. */
export function workerdConfig(build: WorkerBuild, options: WorkerdServeOptions): string {
  const vars = { ...build.vars, ...options.vars };
  for (const name of options.secretNames) delete vars[name];
  const bindings = [
    ...Object.entries(vars).map(([name, value]) =>
      typeof value === "string"
        ? `(name = ${capnpText(name)}, text = ${capnpText(value)})`
        : `(name = ${capnpText(name)}, json = ${capnpText(JSON.stringify(value))})`,
    ),
    ...options.secretNames.map(
      (name) => `(name = ${capnpText(name)}, fromEnvironment = ${capnpText(name)})`,
    ),
    ...build.durableObjects.map(
      ({ binding, className }) =>
        `(name = ${capnpText(binding)}, durableObjectNamespace = ${capnpText(className)})`,
    ),
  ];
  const classes = [...new Set(build.durableObjects.map((d) => d.className))];
  const namespaces = classes.map(
    (className) =>
      `(className = ${capnpText(className)}, uniqueKey = ${capnpText(`${build.name}-${className}`)}, enableSql = ${build.sqliteClasses.has(className)})`,
  );
  // `embed` paths are relative to the config file, which is written into the build directory
  // (an absolute path would be looked up in capnp's import path instead).
  const modules = build.modules.map(
    (m) => `(name = ${capnpText(m.name)}, ${m.kind} = embed ${capnpText(m.name)})`,
  );
  return `# Generated by dev/workerd-runtime.ts; do not edit.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "do-storage", disk = (path = ${capnpText(options.storageDir)}, writable = true)),${
      options.localNetwork
        ? '\n    (name = "outbound", network = (allow = ["public", "private", "local"])),'
        : ""
    }
  ],
  sockets = [ (name = "http", address = ${capnpText(`${options.host ?? "127.0.0.1"}:${options.port}`)}, http = (), service = "main") ],
);

const worker :Workerd.Worker = (
  modules = [ ${modules.join(",\n    ")} ],
  compatibilityDate = ${capnpText(build.compatibilityDate)},
  compatibilityFlags = [ ${build.compatibilityFlags.map(capnpText).join(", ")} ],
  bindings = [
    ${bindings.join(",\n    ")}
  ],
  durableObjectNamespaces = [ ${namespaces.join(",\n    ")} ],
  durableObjectStorage = ${classes.length > 0 ? '(localDisk = "do-storage")' : "(none = void)"},${
    options.localNetwork ? '\n  globalOutbound = "outbound",' : ""
  }
);
`;
}

export function startWorkerd(
  build: WorkerBuild,
  options: WorkerdServeOptions & {
    configFile: string;
    secrets: Record<string, string>;
    logFile: string;
  },
): ServerProcess {
  writeFileSync(options.configFile, workerdConfig(build, options));
  const args = ["serve", options.configFile, "--experimental"];
  if (options.inspectorPort !== undefined)
    args.push(`--inspector-addr=127.0.0.1:${options.inspectorPort}`);
  return new ServerProcess({
    command: WORKERD_BIN,
    args,
    env: { ...options.secrets },
    logFile: options.logFile,
  });
}
