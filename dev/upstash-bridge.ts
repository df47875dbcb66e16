// A local stand-in for Upstash's REST API over a real Redis, so @upstash/redis (used by the
// Worker) can run against `redis-server` in development and tests. Development tool only.
//
//   POST /            ["SADD","k","m"]            → 200 {result} | 400 {error}
//   POST /pipeline    [["DEL","k"],["SADD",…]]    → 200 [{result}|{error}, …]
//   POST /multi-exec  [["DEL","k"],["SADD",…]]    → 200 [{result}|{error}, …], atomic (MULTI/EXEC)
//   bad or missing bearer token → 401; Redis unreachable → 500.
//
// Run on its own: UPSTASH_REDIS_REST_TOKEN=… node dev/upstash-bridge.ts
// (REDIS_URL, UPSTASH_BRIDGE_HOST and UPSTASH_BRIDGE_PORT are optional).

import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Redis } from "ioredis";
import { listen } from "./listen.ts";
import {
  encodeReply,
  parseCommand,
  parseCommandList,
  type RedisCommand,
  type RedisReply,
  UpstashBodyError,
  type UpstashResult,
} from "./upstash-wire.ts";

export interface UpstashBridgeOptions {
  /** Interface to bind. Default "127.0.0.1". */
  host?: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** The bearer token clients must present (UPSTASH_REDIS_REST_TOKEN). */
  token: string;
  /** Default "redis://127.0.0.1:6379". */
  redisUrl?: string;
  /**
   * How long one Redis command may take before the request fails with 500, in milliseconds.
   * Default 5000. Blocking commands are refused anyway, so this only trips on a stuck server.
   */
  commandTimeoutMs?: number;
  /** Largest accepted request body, in bytes. Default 10 MiB. */
  maxBodyBytes?: number;
  /** Where unexpected failures are reported. Default: console.error. Never receives the token. */
  onError?: (message: string) => void;
}

export interface UpstashBridge {
  /** Base URL for UPSTASH_REDIS_REST_URL, e.g. "http://127.0.0.1:8079". */
  url: string;
  port: number;
  close(): Promise<void>;
}

type Item = { result: UpstashResult } | { error: string };

/** The request could not be served because Redis is unreachable or failed outside a reply. */
class RedisUnavailableError extends Error {
  override readonly name = "RedisUnavailableError";
}

class RequestError extends Error {
  override readonly name = "RequestError";
  readonly status: 404 | 405 | 413 | 400;
  constructor(status: 404 | 405 | 413 | 400, message: string) {
    super(message);
    this.status = status;
  }
}

/** An error reply from Redis itself (WRONGTYPE, syntax, EXECABORT…), as opposed to I/O. */
function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === "ReplyError";
}

function connectRedis(url: string, commandTimeoutMs: number, onError: (m: string) => void): Redis {
  const redis = new Redis(url, {
    // Fail fast while Redis is down instead of queueing: the bridge answers 500 at once and the
    // caller (the mirror's outbox) retries later. Reconnection continues in the background with
    // ioredis's default backoff (50 ms per attempt, capped at 2 s), so recovery needs no restart.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 2_000,
    lazyConnect: false,
  });
  let reported = false;
  redis.on("error", (err: Error) => {
    // Reconnect attempts error repeatedly while Redis is down; one line per outage is enough.
    if (!reported) onError(`upstash-bridge: Redis connection error: ${err.message}`);
    reported = true;
  });
  redis.on("ready", () => {
    reported = false;
  });
  return redis;
}

/** Resolves once the client is ready or has failed its first attempt (at most ~2 s). */
async function untilReadyOrFailed(redis: Redis): Promise<void> {
  if (redis.status === "ready") return;
  await new Promise<void>((resolve) => {
    const done = () => {
      redis.off("ready", done);
      redis.off("error", done);
      redis.off("end", done);
      resolve();
    };
    redis.once("ready", done);
    redis.once("error", done);
    redis.once("end", done);
  });
}

function tokenMatches(expected: Buffer, header: string | undefined): boolean {
  const match = /^Bearer (.+)$/.exec(header ?? "");
  if (!match?.[1]) return false;
  // Hash both sides so the comparison is constant-time regardless of the presented length.
  const presented = createHash("sha256").update(match[1]).digest();
  return timingSafeEqual(presented, expected);
}

async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > maxBytes) throw new RequestError(413, "ERR request body too large");
    chunks.push(buf);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new RequestError(400, "ERR request body is not valid JSON");
  }
}

async function runSingle(redis: Redis, [name, ...args]: RedisCommand): Promise<RedisReply> {
  try {
    return (await redis.callBuffer(name, ...args)) as RedisReply;
  } catch (err) {
    if (isReplyError(err)) throw err;
    throw new RedisUnavailableError(errorMessage(err));
  }
}

/** Turns ioredis `[[err, reply], …]` into Upstash items; any non-reply error fails the request. */
function toItems(results: [Error | null, unknown][] | null, base64: boolean): Item[] {
  if (results === null) throw new RedisUnavailableError("empty pipeline result");
  return results.map(([err, reply]) => {
    if (err === null) return { result: encodeReply(reply as RedisReply, base64) };
    if (isReplyError(err)) return { error: err.message };
    throw new RedisUnavailableError(err.message);
  });
}

async function runPipeline(redis: Redis, commands: RedisCommand[], base64: boolean) {
  const pipeline = redis.pipeline();
  for (const [name, ...args] of commands) pipeline.callBuffer(name, ...args);
  return toItems(await pipeline.exec(), base64);
}

/**
 * MULTI … EXEC on the transaction connection. ioredis writes MULTI, the commands and EXEC as one
 * batch on one socket, so no other command can land inside the transaction, and Redis runs the
 * block without interleaving other clients. A command Redis refuses while queueing aborts the
 * whole transaction (EXECABORT, nothing applied): that is a 400, like a failed single command.
 */
async function runTransaction(redis: Redis, commands: RedisCommand[], base64: boolean) {
  const multi = redis.multi();
  for (const [name, ...args] of commands) multi.callBuffer(name, ...args);
  try {
    return toItems(await multi.exec(), base64);
  } catch (err) {
    if (!isReplyError(err)) throw new RedisUnavailableError(errorMessage(err));
    // ioredis attaches the queue-time errors that caused EXECABORT; name the first one.
    const cause = firstPreviousError(err);
    throw cause ? new UpstashBodyError(`${errorMessage(err)} ${cause}`) : err;
  }
}

function firstPreviousError(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null || !("previousErrors" in err)) return undefined;
  const previous = err.previousErrors;
  if (!Array.isArray(previous)) return undefined;
  const first: unknown = previous[0];
  return first instanceof Error ? first.message : undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function send(res: ServerResponse, status: number, body: unknown, syncToken: string | undefined) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  // @upstash/redis sends the last token it saw and stores the one we answer (read-your-writes).
  // One Redis is trivially consistent with itself, so echoing is all that is needed.
  if (syncToken !== undefined) headers["upstash-sync-token"] = syncToken;
  res.writeHead(status, headers).end(JSON.stringify(body));
}

export async function startUpstashBridge(options: UpstashBridgeOptions): Promise<UpstashBridge> {
  if (!options.token) throw new TypeError("startUpstashBridge: token must be a non-empty string");
  const host = options.host ?? "127.0.0.1";
  const redisUrl = options.redisUrl ?? "redis://127.0.0.1:6379";
  const commandTimeoutMs = options.commandTimeoutMs ?? 5_000;
  const maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const onError = options.onError ?? ((message: string) => console.error(message));
  const expectedToken = createHash("sha256").update(options.token).digest();

  // Two connections: commands and pipelines share one; transactions get their own, so a MULTI
  // block never shares a socket with unrelated traffic.
  const commands = connectRedis(redisUrl, commandTimeoutMs, onError);
  const transactions = connectRedis(redisUrl, commandTimeoutMs, () => {});
  // Give the first connection a moment, so requests right after start do not fail only because
  // the socket is still opening. A Redis that is down is not an error here: requests get 500
  // until it comes up.
  await Promise.all([untilReadyOrFailed(commands), untilReadyOrFailed(transactions)]);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const syncToken = headerValue(req, "upstash-sync-token");
    if (!tokenMatches(expectedToken, headerValue(req, "authorization"))) {
      req.resume();
      send(res, 401, { error: "Unauthorized" }, syncToken);
      return;
    }
    const base64 = headerValue(req, "upstash-encoding")?.toLowerCase() === "base64";
    try {
      const path = new URL(req.url ?? "/", "http://bridge").pathname.replace(/\/+$/, "");
      if (req.method !== "POST") throw new RequestError(405, "ERR only POST is supported");
      if (path !== "" && path !== "/pipeline" && path !== "/multi-exec") {
        throw new RequestError(404, "ERR unknown endpoint");
      }
      const body = await readJson(req, maxBodyBytes);
      if (path === "") {
        const reply = await runSingle(commands, parseCommand(body));
        send(res, 200, { result: encodeReply(reply, base64) }, syncToken);
      } else if (path === "/pipeline") {
        send(res, 200, await runPipeline(commands, parseCommandList(body), base64), syncToken);
      } else {
        send(
          res,
          200,
          await runTransaction(transactions, parseCommandList(body), base64),
          syncToken,
        );
      }
    } catch (err) {
      if (err instanceof RequestError) send(res, err.status, { error: err.message }, syncToken);
      else if (err instanceof UpstashBodyError || isReplyError(err)) {
        send(res, 400, { error: errorMessage(err) }, syncToken);
      } else if (err instanceof RedisUnavailableError) {
        send(res, 500, { error: `ERR Redis unavailable: ${err.message}` }, syncToken);
      } else {
        onError(`upstash-bridge: unexpected failure: ${errorMessage(err)}`);
        send(res, 500, { error: "ERR internal bridge error" }, syncToken);
      }
    }
  }

  const server = createServer((req, res) => {
    req.on("error", () => res.destroy());
    res.on("error", () => {});
    handle(req, res).catch((err) => {
      onError(`upstash-bridge: ${errorMessage(err)}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.on("clientError", (_err, socket) => socket.destroy());

  const { port, urlHost } = await listen(server, options.port, host);

  return {
    url: `http://${urlHost}:${port}`,
    port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      commands.disconnect();
      transactions.disconnect();
    },
  };
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

if (import.meta.main) {
  const token = process.env.UPSTASH_REDIS_REST_TOKEN;
  if (!token) {
    console.error("upstash-bridge: set UPSTASH_REDIS_REST_TOKEN to the token clients will send");
    process.exit(2);
  }
  const bridge = await startUpstashBridge({
    host: process.env.UPSTASH_BRIDGE_HOST ?? "127.0.0.1",
    port: Number(process.env.UPSTASH_BRIDGE_PORT ?? 8079),
    token,
    redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  });
  console.log(`upstash-bridge: listening on ${bridge.url}`);
  const stop = () => void bridge.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
