// The Upstash REST wire format, without any I/O: parsing request bodies into Redis commands and
// encoding Redis replies the way @upstash/redis decodes them. Kept apart from the HTTP server so
// the rules (what is a valid command, what base64 means) are in one small place.

/** A Redis command as sent to Redis: name first, every argument already a string. */
export type RedisCommand = readonly [name: string, ...args: string[]];

/** A reply as ioredis hands it back with Buffer replies (`callBuffer`). */
export type RedisReply = Buffer | string | number | null | RedisReply[];

/** What goes into `{ "result": … }`. RESP2 shapes only: Upstash never answers with JSON objects. */
export type UpstashResult = string | number | null | UpstashResult[];

export class UpstashBodyError extends Error {
  override readonly name = "UpstashBodyError";
}

/**
 * Commands that change the state of a connection, block it, or would let a client run its own
 * MULTI on the shared connection. Upstash's REST API refuses these too (transactions go through
 * `/multi-exec`, pub/sub through its own endpoints).
 */
const REFUSED_COMMANDS = new Set([
  "AUTH",
  "BLMOVE",
  "BLMPOP",
  "BLPOP",
  "BRPOP",
  "BRPOPLPUSH",
  "BZMPOP",
  "BZPOPMAX",
  "BZPOPMIN",
  "CLIENT",
  "DISCARD",
  "EXEC",
  "HELLO",
  "MONITOR",
  "MULTI",
  "PSUBSCRIBE",
  "PUNSUBSCRIBE",
  "QUIT",
  "RESET",
  "SELECT",
  "SSUBSCRIBE",
  "SUBSCRIBE",
  "SUNSUBSCRIBE",
  "SYNC",
  "PSYNC",
  "UNSUBSCRIBE",
  "UNWATCH",
  "WAIT",
  "WATCH",
]);

/**
 * Parses one command (`["SADD","k","m"]`). Arguments arrive as JSON strings, numbers or booleans
 * (@upstash/redis sends numbers for EXPIRE seconds and counts); Redis wants strings.
 * The name is upper-cased: besides being canonical, it keeps ioredis from applying its
 * lower-case-keyed reply transformers (HGETALL → object), so replies stay RESP2 arrays.
 */
export function parseCommand(value: unknown): RedisCommand {
  if (!Array.isArray(value) || value.length === 0) {
    throw new UpstashBodyError("ERR a command must be a non-empty JSON array");
  }
  const parts = value.map((part, index) => {
    if (typeof part === "string") return part;
    if (typeof part === "number" && Number.isFinite(part)) return String(part);
    if (typeof part === "boolean") return String(part);
    throw new UpstashBodyError(
      `ERR argument ${index} must be a string, a finite number or a boolean`,
    );
  });
  const [name, ...args] = parts as [string, ...string[]];
  const upper = name.toUpperCase();
  if (!/^[A-Z][A-Z0-9_.|-]*$/.test(upper)) {
    throw new UpstashBodyError("ERR invalid command name");
  }
  if (REFUSED_COMMANDS.has(upper)) {
    throw new UpstashBodyError(`ERR command ${upper} is not supported over REST`);
  }
  return [upper, ...args];
}

/** Parses the body of `/pipeline` and `/multi-exec`: a non-empty array of commands. */
export function parseCommandList(value: unknown): RedisCommand[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new UpstashBodyError("ERR a pipeline must be a non-empty JSON array of commands");
  }
  return value.map(parseCommand);
}

/**
 * Turns a Redis reply into the JSON value Upstash would send.
 *
 * With `Upstash-Encoding: base64` (the @upstash/redis default) every string, recursively inside
 * arrays, is the base64 of its bytes, while integers and nil stay as they are. The status reply
 * "OK" stays plain: the client special-cases it, and a bulk string "OK" decodes to the same text.
 * Without the header, strings are sent as UTF-8 text.
 */
export function encodeReply(reply: RedisReply, base64: boolean): UpstashResult {
  if (reply === null || typeof reply === "number") return reply;
  if (Array.isArray(reply)) return reply.map((item) => encodeReply(item, base64));
  const bytes = typeof reply === "string" ? Buffer.from(reply, "utf8") : reply;
  if (!base64) return bytes.toString("utf8");
  if (bytes.length === 2 && bytes.toString("latin1") === "OK") return "OK";
  return bytes.toString("base64");
}
