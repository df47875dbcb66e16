/**
 * `npm start` (dev/serve.ts) as an operator runs it: a real process on a free port with its own
 * data directory, secrets only in its environment. A user connects with a minted token and
 * leaves a direct message for an offline user; SIGTERM stops everything within seconds; started
 * again on the same directory, the message is still there to resume; and no file the runtime
 * wrote holds the JWT secret or the API key.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../dev/server-process.ts";
import { DATA_LAYOUT } from "../../dev/workerd-server.ts";
import { connectAs, uniqueUser } from "../e2e/helpers.ts";

const REPO_ROOT = resolve(import.meta.dirname, "../..");
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const redisKeyPrefix = `test:serve:${randomBytes(4).toString("hex")}:`;
// Fresh per run, so finding them on disk can only mean the runtime wrote them there.
const jwtSecret = `serve-test-jwt-${randomBytes(24).toString("hex")}`;
const apiKey = `serve-test-key-${randomBytes(24).toString("hex")}`;
const dataDir = mkdtempSync(join(tmpdir(), "gateway-serve-"));
/** How long a SIGTERM may take to stop workerd, the proxy, the bridge and PGlite. */
const STOP_WITHIN_MS = 5_000;
const READY_TIMEOUT_MS = 150_000;

interface Running {
  child: ChildProcess;
  output: string[];
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(port: number): Promise<Running> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The embedded defaults: no database or Upstash from the surrounding shell.
  for (const name of ["DATABASE_URL", "NEON_WS_PROXY", "UPSTASH_REDIS_REST_URL"]) delete env[name];
  const child = spawn(process.execPath, [join(REPO_ROOT, "dev/serve.ts")], {
    cwd: REPO_ROOT,
    env: {
      ...env,
      PORT: String(port),
      DATA_DIR: dataDir,
      JWT_SECRET: jwtSecret,
      API_KEY: apiKey,
      REDIS_URL,
      REDIS_KEY_PREFIX: redisKeyPrefix,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once("exit", (code, signal) => done({ code, signal })),
  );
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`not ready in time:\n${output.join("")}`)),
      READY_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString("utf8"));
      const match = /gateway {4}(http:\/\/\S+)/.exec(output.join(""));
      if (match?.[1]) {
        clearTimeout(timer);
        resolveStart({ child, output, url: match[1], exited });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before it was ready:\n${output.join("")}`));
    });
  });
}

/** Processes whose command line names the data directory (workerd serve <dataDir>/…/workerd.capnp). */
function processesUsingDataDir(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(dataDir))
        pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

async function stopWithSigterm(running: Running): Promise<number> {
  const began = performance.now();
  running.child.kill("SIGTERM");
  const result = await Promise.race([
    running.exited,
    new Promise<null>((done) => setTimeout(() => done(null), STOP_WITHIN_MS)),
  ]);
  expect(result, `still running ${STOP_WITHIN_MS} ms after SIGTERM`).not.toBeNull();
  expect(result).toEqual({ code: 0, signal: null });
  return performance.now() - began;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

let running: Running | undefined;

afterAll(async () => {
  if (running && running.child.exitCode === null) running.child.kill("SIGKILL");
  for (const pid of processesUsingDataDir()) process.kill(pid, "SIGKILL");
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${redisKeyPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("npm start", () => {
  const [ann, bob] = [uniqueUser("ann"), uniqueUser("bob")];
  let port = 0;

  it(
    "serves on workerd, says what it started, and keeps the secrets out of its output",
    async () => {
      port = await freePort();
      running = await start(port);
      const printed = running.output.join("");
      expect(running.url).toBe(`http://127.0.0.1:${port}`);
      expect(printed).toContain(`storage    ${join(dataDir, DATA_LAYOUT.storage)}`);
      expect(printed).toContain(`embedded PGlite in ${join(dataDir, DATA_LAYOUT.pglite)}`);
      expect(printed).toMatch(/mirrors {4}postgres ON, redis ON via bridge/);
      expect(printed).not.toContain("WARNING");
      expect(printed).not.toContain(jwtSecret);
      expect(printed).not.toContain(apiKey);
      expect(processesUsingDataDir()).toHaveLength(1);
    },
    READY_TIMEOUT_MS + 10_000,
  );

  it("stores a direct message for an offline user", async () => {
    const gateway = running?.url ?? "";
    const receiver = await connectAs(bob, { secret: jwtSecret }, { gateway });
    expect(receiver.established.type).toBe("connection_established");
    await receiver.close();
    const sender = await connectAs(ann, { secret: jwtSecret }, { gateway });
    expect(sender.established.type).toBe("connection_established");
    const sent = await sender.request("send_message", {
      target_user_id: bob,
      message: "kept across restarts",
    });
    expect(sent.type).toBe("message_sent");
    await sender.close();
  });

  it("stops on one SIGTERM within seconds, leaving no process behind", async () => {
    if (!running) throw new Error("not started");
    const took = await stopWithSigterm(running);
    console.log(`npm start: SIGTERM to exit ${Math.round(took)} ms`);
    expect(running.output.join("")).toContain("start: stopped");
    expect(processesUsingDataDir()).toEqual([]);
  });

  it(
    "started again on the same data directory, the stored message is resumed",
    async () => {
      running = await start(port);
      const receiver = await connectAs(bob, { secret: jwtSecret }, { gateway: running.url });
      expect(receiver.established.data.last_seq).toBeGreaterThanOrEqual(1);
      const done = await receiver.request("resume", { since_seq: 0 });
      expect(done.type).toBe("resumed");
      const replayed = receiver.frames.received.filter((f) => f.type === "user_message");
      expect(replayed.map((f) => f.data.message)).toEqual(["kept across restarts"]);
      await receiver.close();
      await stopWithSigterm(running);
      expect(processesUsingDataDir()).toEqual([]);
    },
    READY_TIMEOUT_MS + 20_000,
  );

  it("wrote neither the JWT secret nor the API key into any file", () => {
    const files = filesUnder(dataDir);
    // The generated workerd config and the bundle are among them.
    expect(files).toContain(join(dataDir, DATA_LAYOUT.build, "workerd.capnp"));
    expect(files.some((file) => file.startsWith(join(dataDir, DATA_LAYOUT.storage)))).toBe(true);
    const holding = files.filter((file) => {
      const bytes = readFileSync(file);
      return bytes.includes(jwtSecret) || bytes.includes(apiKey);
    });
    expect(holding).toEqual([]);
    const config = readFileSync(join(dataDir, DATA_LAYOUT.build, "workerd.capnp"), "utf8");
    expect(config).toContain('(name = "JWT_SECRET", fromEnvironment = "JWT_SECRET")');
    expect(config).toContain('(name = "API_KEY", fromEnvironment = "API_KEY")');
  });
});
