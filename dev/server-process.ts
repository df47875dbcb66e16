// Child processes of the bench: every server runs in its own process group (so a server that
// forks, like wrangler -> workerd, is stopped whole) and is killed by its id when the bench
// ends, fails, or is interrupted.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { createServer } from "node:net";
import { dirname } from "node:path";

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const live = new Set<ServerProcess>();
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the ANSI colour codes wrangler prints.
const ANSI_COLOUR = /\x1b\[[0-9;]*m/g;

/** Kills every child still alive, synchronously (safe in exit and signal handlers). */
export function killAllChildren(): void {
  for (const child of live) child.kill("SIGKILL");
}

export interface SpawnOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
  /** Everything the process prints goes here. */
  readonly logFile: string;
}

export class ServerProcess {
  readonly pid: number;
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;
  readonly #log: WriteStream;
  readonly #tail: string[] = [];
  #lineWaiters: Array<{ pattern: RegExp; resolve: (match: RegExpExecArray) => void }> = [];
  readonly #lineListeners: Array<(line: string) => void> = [];
  #partial = "";
  #alive = true;

  constructor(options: SpawnOptions) {
    mkdirSync(dirname(options.logFile), { recursive: true });
    this.#log = createWriteStream(options.logFile, { flags: "w" });
    this.#child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      // Own process group: kill(-pid) reaches its children too.
      detached: true,
    });
    if (this.#child.pid === undefined) throw new Error(`could not start ${options.command}`);
    this.pid = this.#child.pid;
    live.add(this);
    this.#child.stdout?.on("data", (chunk: Buffer) => this.#onOutput(chunk));
    this.#child.stderr?.on("data", (chunk: Buffer) => this.#onOutput(chunk));
    this.exited = new Promise((resolve) => {
      this.#child.once("exit", (code, signal) => {
        this.#alive = false;
        live.delete(this);
        this.#log.end(`\n[bench] exited with ${code ?? signal}\n`);
        resolve(code);
      });
    });
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** The last lines the process printed, for error messages. */
  get tail(): string {
    return this.#tail.join("\n");
  }

  /** Resolves with the first output line matching `pattern`; rejects on exit or timeout. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#lineWaiters = this.#lineWaiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `no line matching ${pattern} within ${timeoutMs} ms; last output:\n${this.tail}`,
          ),
        );
      }, timeoutMs);
      const waiter = {
        pattern,
        resolve: (match: RegExpExecArray) => {
          clearTimeout(timer);
          resolve(match);
        },
      };
      this.#lineWaiters.push(waiter);
      this.exited.then((code) => {
        clearTimeout(timer);
        reject(
          new Error(`exited (${code}) before printing ${pattern}; last output:\n${this.tail}`),
        );
      });
    });
  }

  /** Calls `listener` with every later output line (ANSI colours removed). */
  onLine(listener: (line: string) => void): void {
    this.#lineListeners.push(listener);
  }

  kill(signal: NodeJS.Signals): void {
    if (!this.#alive) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // The group is already gone.
    }
  }

  /** SIGTERM to the group, SIGKILL after `graceMs` (default 5000). */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.#alive) return;
    this.kill("SIGTERM");
    const timer = setTimeout(() => this.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
    // The leader may exit before the rest of its group (workerd under wrangler).
    try {
      process.kill(-this.pid, "SIGKILL");
    } catch {
      // Nothing left.
    }
  }

  #onOutput(chunk: Buffer): void {
    this.#log.write(chunk);
    const lines = (this.#partial + chunk.toString("utf8")).split("\n");
    this.#partial = lines.pop() ?? "";
    for (const raw of lines) {
      // Strip ANSI colours before matching (wrangler colours its output).
      const line = raw.replace(ANSI_COLOUR, "");
      this.#tail.push(line);
      if (this.#tail.length > 30) this.#tail.shift();
      for (const listener of this.#lineListeners) listener(line);
      for (const waiter of this.#lineWaiters) {
        const match = waiter.pattern.exec(line);
        if (match) {
          this.#lineWaiters = this.#lineWaiters.filter((w) => w !== waiter);
          waiter.resolve(match);
        }
      }
    }
  }
}

/** Polls `url` until it answers with any HTTP status. */
export async function waitForHttp(
  url: string,
  timeoutMs: number,
  child?: ServerProcess,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (child && !child.alive)
      throw new Error(`exited before answering ${url}; last output:\n${child.tail}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(1_000) });
      return;
    } catch {
      if (performance.now() > deadline)
        throw new Error(`${url} did not answer within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
