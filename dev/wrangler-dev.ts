// Runs `wrangler dev` as a child process and waits until it serves: non-interactive (`--ip`,
// `--port`, no TTY), offline, with configuration passed through one generated env file.

import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";

export interface WranglerDevOptions {
  /** Directory wrangler runs in (the repository root, for node_modules). */
  cwd: string;
  /** wrangler.toml to use. */
  configPath: string;
  /** Interface to bind. Default "127.0.0.1". */
  ip?: string;
  /** Port; 0 lets wrangler pick a free one (the URL it reports is returned). */
  port: number;
  /** DevTools inspector port; 0 picks a free one, so two stacks can run side by side. Default 0. */
  inspectorPort?: number;
  /** --persist-to: where Durable Object storage lives between runs. */
  persistTo: string;
  /** --env-file: the only source of vars besides wrangler.toml (see worker-env.ts). */
  envFile: string;
  /** Each line wrangler prints (stdout and stderr), without colour codes. */
  onOutput?: (line: string) => void;
  /** How long to wait for "Ready on …", in milliseconds. Default 60000. */
  readyTimeoutMs?: number;
}

export interface WranglerDev {
  /** e.g. "http://127.0.0.1:8787" */
  url: string;
  port: number;
  pid: number;
  /** Resolves when wrangler has exited: its exit code, or 128 + signal number. */
  exited: Promise<number>;
  /** Sends `signal` (default SIGTERM) to wrangler and its workerd; SIGKILL after 5 s. */
  stop(signal?: NodeJS.Signals): Promise<number>;
  /** SIGKILL to wrangler's process group, synchronously (for a forced exit). */
  kill(): void;
}

export class WranglerStartError extends Error {
  override readonly name = "WranglerStartError";
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGKILL: 9,
  SIGTERM: 15,
};

function wranglerEntry(cwd: string): string {
  // Run wrangler's JS with this very Node (24): the `wrangler` shim's `#!/usr/bin/env node`
  // would pick whatever `node` is first on PATH, and the machine's own Node is too old.
  // The bin script is not in the package's "exports"; find it beside the main entry.
  const main = createRequire(join(cwd, "package.json")).resolve("wrangler");
  return join(dirname(main), "..", "bin", "wrangler.js");
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences start with ESC.
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

export async function startWranglerDev(options: WranglerDevOptions): Promise<WranglerDev> {
  const ip = options.ip ?? "127.0.0.1";
  const args = [
    wranglerEntry(options.cwd),
    "dev",
    "--config",
    options.configPath,
    "--ip",
    ip,
    "--port",
    String(options.port),
    "--inspector-port",
    String(options.inspectorPort ?? 0),
    "--persist-to",
    options.persistTo,
    "--env-file",
    options.envFile,
    "--show-interactive-dev-session=false",
  ];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: {
      ...process.env,
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      WRANGLER_SEND_METRICS: "false",
      WRANGLER_HIDE_BANNER: "true",
      // Never let wrangler copy the shell's environment into the Worker.
      CLOUDFLARE_INCLUDE_PROCESS_ENV: "false",
      FORCE_COLOR: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: a terminal Ctrl-C reaches only us, we stop wrangler in order, and
    // stopping the group also ends the workerd it started.
    detached: true,
  });
  const pid = child.pid;
  if (pid === undefined) throw new WranglerStartError("wrangler could not be spawned");

  const exited = new Promise<number>((resolve) => {
    child.once("exit", (code, signal) => {
      resolve(code ?? 128 + (signal ? (SIGNAL_NUMBERS[signal] ?? 0) : 0));
    });
  });

  const ready = new Promise<string>((resolve, reject) => {
    const recent: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on("line", (raw) => {
        const line = raw.replace(ANSI, "");
        options.onOutput?.(line);
        recent.push(line);
        if (recent.length > 30) recent.shift();
        const match = /Ready on (http:\/\/\S+)/.exec(line);
        if (match?.[1]) resolve(match[1].replace(/\/$/, ""));
      });
    }
    void exited.then((code) =>
      reject(
        new WranglerStartError(
          `wrangler exited with ${code} before it was ready:\n${recent.join("\n")}`,
        ),
      ),
    );
  });

  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  };
  let stopping: Promise<number> | undefined;
  const stop = (signal: NodeJS.Signals = "SIGTERM"): Promise<number> => {
    stopping ??= (async () => {
      signalGroup(signal);
      const timer = setTimeout(() => signalGroup("SIGKILL"), 5_000);
      const code = await exited;
      clearTimeout(timer);
      // workerd may outlive wrangler by a moment; make sure nothing of the group remains.
      signalGroup("SIGKILL");
      return code;
    })();
    return stopping;
  };

  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const url = await Promise.race([
      ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new WranglerStartError(`wrangler was not ready after ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
    return {
      url,
      port: Number(new URL(url).port),
      pid,
      exited,
      stop,
      kill: () => signalGroup("SIGKILL"),
    };
  } catch (err) {
    await stop("SIGKILL");
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
