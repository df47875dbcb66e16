/**
 * Generated bad input for the black-box fuzzer (fuzzer.ts): socket frames and HTTP requests,
 * each with what the gateway must answer per docs/protocol.md. Deterministic for a seed, so a
 * finding can be replayed (`npm run fuzz -- --seed N`).
 */

/** A small fast PRNG (mulberry32): the same seed gives the same cases. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/**
 * What an answer must be. `codes`: the error must carry one of them (empty: any typed code but
 * `internal`). `mayAccept`: a success reply is fine too (the input was odd but valid).
 */
export interface Expectation {
  readonly codes: readonly string[];
  readonly mayAccept: boolean;
}

export interface FrameCase {
  readonly category: string;
  /** Text frames are sent as given (already JSON-encoded or deliberately broken). */
  readonly frame: string | Uint8Array;
  readonly expect: Expectation;
}

export interface HttpCase {
  readonly category: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string | Uint8Array;
  /** The statuses a correct gateway may answer with; every error body must be typed. */
  readonly statuses: readonly number[];
  /** When the status is an error, the codes allowed (empty: any but `internal`). */
  readonly codes: readonly string[];
}

/** Names the fuzzer fills in: users that exist (connected) and the fuzzing user itself. */
export interface Targets {
  /** A connected user the fuzzer may send to (not one of the probe's users). */
  readonly sink: string;
}

const anyError = (...codes: string[]): Expectation => ({ codes, mayAccept: false });

const FRAME_LIMIT = 64 * 1024;
/** 2^53 + 1: not a safe integer, and JSON.parse turns it into 2^53 (another user's id). */
const UNSAFE_INTEGER = "9007199254740993";

/** A JSON text whose strings may hold what JSON.stringify cannot produce on its own. */
const json = (value: unknown) => JSON.stringify(value);
/** `{"a":{"a":…}}` nested `depth` levels around `leaf`. */
export function nested(depth: number, leaf = "1"): string {
  return `${'{"a":'.repeat(depth)}${leaf}${"}".repeat(depth)}`;
}

/** Strings Postgres cannot store, written as JSON escapes so they survive the UTF-8 frame. */
const UNSTORABLE = ["a\\u0000b", "\\u0000", "x\\ud800y", "\\udfff", "\\ud83d", "ok\\u0000"];

const BAD_GROUP_NAMES: readonly unknown[] = [
  "",
  "x".repeat(129),
  "group_x".padEnd(2000, "y"),
  "nope_prefix",
  "group_../../etc",
  "group_ spaces",
  "group_é",
  "group_\u202e",
  "group_<script>",
  "group_*",
  "consultation_",
  42,
  null,
  [],
  {},
  true,
];

const BAD_USER_IDS: readonly unknown[] = [
  "",
  "x".repeat(65),
  "a b",
  "../x",
  "ü",
  "a\nb",
  -1.5,
  Number.POSITIVE_INFINITY,
  null,
  {},
  [],
  true,
];

const KNOWN_TYPES = [
  "ping",
  "get_status",
  "send_message",
  "broadcast",
  "join_group",
  "leave_group",
  "group_message",
  "consultation_message",
  "resume",
  "refresh_token",
] as const;

function randomText(random: Random, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) text += String.fromCharCode(32 + random.int(95));
  return text;
}

/** One generated frame. Each generator is a family of the protocol's rules. */
const FRAME_GENERATORS: ReadonlyArray<(random: Random, targets: Targets) => FrameCase> = [
  // Not JSON at all, or cut short.
  (random) => ({
    category: "invalid JSON",
    frame: random.pick([
      "{",
      "}",
      '{"type":',
      '{"type":"ping"',
      "[1,2",
      "nul",
      "{'type':'ping'}",
      '{"type":"ping",}',
      "\u0000",
      randomText(random, 1 + random.int(200)),
    ]),
    expect: anyError("invalid_json"),
  }),
  // JSON, but not an object with a string type.
  (random) => ({
    category: "not an object / no type",
    frame: random.pick([
      "null",
      "true",
      "42",
      '"ping"',
      "[]",
      '[{"type":"ping"}]',
      "{}",
      '{"data":{}}',
      '{"type":null}',
      '{"type":42}',
      '{"type":["ping"]}',
      '{"type":{"a":1}}',
      '{"type":""}',
    ]),
    expect: anyError("invalid_message", "unknown_type", "validation_failed"),
  }),
  (random) => ({
    category: "unknown type",
    frame: json({
      type: random.pick([
        "__proto__",
        "constructor",
        "toString",
        "hasOwnProperty",
        "PING",
        "ping ",
        "send-message",
        "user_message",
        "error",
        "x".repeat(1000),
        randomText(random, 12),
      ]),
      data: {},
    }),
    expect: anyError("unknown_type", "invalid_message"),
  }),
  // A known type with data of the wrong shape.
  (random) => {
    const type = random.pick(KNOWN_TYPES.filter((t) => t !== "ping" && t !== "get_status"));
    return {
      category: "wrong data shape",
      frame: json({ type, data: random.pick([null, 42, "text", [], [1, 2], true]) }),
      expect: anyError("validation_failed", "invalid_message"),
    };
  },
  (random, targets) => ({
    category: "wrong field types",
    frame: json(
      random.pick([
        { type: "send_message", data: { target_user_id: targets.sink, message: 42 } },
        { type: "send_message", data: { target_user_id: targets.sink, message: "" } },
        { type: "send_message", data: { target_user_id: targets.sink } },
        { type: "send_message", data: { message: "hi" } },
        {
          type: "send_message",
          data: { target_user_id: targets.sink, message: "hi", message_type: "bad type!" },
        },
        { type: "get_status", data: { user_ids: "u1" } },
        { type: "get_status", data: { user_ids: [{}] } },
        { type: "get_status", data: { user_ids: Array.from({ length: 101 }, (_, i) => `u${i}`) } },
        { type: "resume", data: { since_seq: -1 } },
        { type: "resume", data: { since_seq: 1.5 } },
        { type: "resume", data: { since_seq: "0" } },
        { type: "resume", data: {} },
        { type: "refresh_token", data: { token: "" } },
        { type: "refresh_token", data: { token: 42 } },
        { type: "join_group", data: {} },
        { type: "join_group", data: { group_name: "group_a", since_group_seq: "x" } },
        { type: "leave_group", data: { group_name: 7 } },
        { type: "group_message", data: { group_name: "group_a" } },
        { type: "consultation_message", data: { message: 1 } },
      ]),
    ),
    expect: anyError("validation_failed", "invalid_group", "forbidden"),
  }),
  (random, targets) => ({
    category: "message over 8,192 characters",
    frame: json({
      type: random.pick(["send_message", "group_message", "broadcast"]),
      data: {
        target_user_id: targets.sink,
        group_name: "group_fuzz",
        message: "m".repeat(8193 + random.int(40_000)),
      },
    }),
    expect: anyError("validation_failed", "message_too_large"),
  }),
  (random) => ({
    category: "frame over 64 KiB",
    frame: random.chance(0.5)
      ? json({ type: "ping", data: { pad: "p".repeat(FRAME_LIMIT + random.int(100_000)) } })
      : "x".repeat(FRAME_LIMIT + 1 + random.int(50_000)),
    expect: anyError("message_too_large"),
  }),
  (random) => ({
    category: "binary frame",
    frame: random.chance(0.5)
      ? new TextEncoder().encode('{"type":"ping"}')
      : Uint8Array.from({ length: 1 + random.int(512) }, () => random.int(256)),
    expect: anyError("invalid_message"),
  }),
  // docs/protocol.md, "Text": NUL and lone surrogates are refused wherever a string is stored.
  (random, targets) => {
    const bad = random.pick(UNSTORABLE);
    const frame = random.pick([
      `{"type":"send_message","data":{"target_user_id":${json(targets.sink)},"message":"${bad}"}}`,
      `{"type":"send_message","data":{"target_user_id":${json(targets.sink)},"message":"hi","message_type":"${bad}"}}`,
      `{"type":"group_message","data":{"group_name":"group_fuzz","message":"${bad}"}}`,
      `{"type":"join_group","data":{"group_name":"group_${bad}"}}`,
      `{"type":"send_message","data":{"target_user_id":"${bad}","message":"hi"}}`,
    ]);
    return {
      category: "NUL or lone surrogate",
      frame,
      expect: anyError("validation_failed", "invalid_group"),
    };
  },
  // docs/protocol.md, "ids": numbers must be safe integers.
  (random) => ({
    category: "unsafe integer id",
    frame: random.pick([
      `{"type":"send_message","data":{"target_user_id":${UNSAFE_INTEGER},"message":"hi"}}`,
      `{"type":"get_status","data":{"user_ids":[${UNSAFE_INTEGER}]}}`,
      `{"type":"get_status","data":{"user_ids":[-${UNSAFE_INTEGER}]}}`,
      `{"type":"send_message","data":{"target_user_id":1e300,"message":"hi"}}`,
    ]),
    expect: anyError("validation_failed"),
  }),
  // Deep nesting anywhere in a frame: answered, never `internal`.
  (random, targets) => {
    const depth = random.pick([33, 64, 500, 5_000]);
    return {
      category: "deep nesting",
      frame: random.pick([
        `{"type":"send_message","data":{"target_user_id":${json(targets.sink)},"message":"hi","extra":${nested(depth)}}}`,
        `{"type":"ping","data":${nested(depth)}}`,
        `{"type":"get_status","id":${nested(depth)}}`,
        `${"[".repeat(depth)}${"]".repeat(depth)}`,
      ]),
      expect: { codes: [], mayAccept: true },
    };
  },
  (random) => ({
    category: "bad group name",
    frame: json({
      type: random.pick(["join_group", "leave_group", "group_message"]),
      data: { group_name: random.pick(BAD_GROUP_NAMES), message: "hi" },
    }),
    expect: anyError("invalid_group", "validation_failed", "forbidden", "not_in_group"),
  }),
  (random) => ({
    category: "bad user id",
    frame: json(
      random.chance(0.5)
        ? {
            type: "send_message",
            data: { target_user_id: random.pick(BAD_USER_IDS), message: "hi" },
          }
        : { type: "get_status", data: { user_ids: [random.pick(BAD_USER_IDS)] } },
    ),
    expect: anyError("validation_failed"),
  }),
  (random) => ({
    category: "bad request id",
    frame: json({
      type: "ping",
      data: {},
      id: random.pick([{}, [], true, null, "i".repeat(129), Number.POSITIVE_INFINITY, { id: 1 }]),
    }),
    expect: { codes: ["validation_failed", "invalid_message"], mayAccept: true },
  }),
  (random) => ({
    category: "prototype keys",
    frame: random.pick([
      '{"type":"ping","__proto__":{"type":"broadcast"}}',
      '{"type":"send_message","data":{"__proto__":{"target_user_id":"x","message":"hi"}}}',
      '{"type":"get_status","data":{"constructor":{"prototype":{"is_staff":true}}}}',
      '{"__proto__":{"type":"ping"}}',
    ]),
    expect: { codes: ["validation_failed", "invalid_message", "unknown_type"], mayAccept: true },
  }),
  // Privileged or context-bound commands from an ordinary user socket.
  (random) => ({
    category: "not allowed here",
    frame: json(
      random.pick([
        { type: "broadcast", data: { message: "everyone!" } },
        { type: "consultation_message", data: { message: "hi" } },
        { type: "leave_group", data: { group_name: "group_never_joined" } },
        { type: "group_message", data: { group_name: "group_never_joined", message: "hi" } },
        { type: "join_group", data: { group_name: "consultation_999", token: "not.a.jwt" } },
        { type: "refresh_token", data: { token: "not.a.jwt" } },
      ]),
    ),
    expect: anyError(
      "forbidden",
      "not_in_group",
      "unauthorized",
      "invalid_message",
      "validation_failed",
    ),
  }),
];

export function frameCase(random: Random, targets: Targets): FrameCase {
  return random.pick(FRAME_GENERATORS)(random, targets);
}

const API = "/api/v1";
const JSON_HEADERS = { "Content-Type": "application/json" };

/** One generated HTTP request; `auth` is the API key's Authorization header. */
const HTTP_GENERATORS: ReadonlyArray<
  (random: Random, auth: Record<string, string>, targets: Targets) => HttpCase
> = [
  (random, auth) => ({
    category: "HTTP unknown path or method",
    method: random.pick(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    path: random.pick([
      "/nope",
      "/api",
      "/api/v2/users/u1/status",
      `${API}/users`,
      `${API}/users/u1`,
      `${API}/users/u1/status/extra`,
      "/ws",
      "/%00",
      "/..%2f..%2fetc%2fpasswd",
      `/${"a".repeat(4000)}`,
      `${API}/groups//messages`,
    ]),
    headers: auth,
    statuses: [404, 405, 400, 426],
    codes: [],
  }),
  (random) => ({
    category: "HTTP without or with a bad key",
    method: "POST",
    path: `${API}/broadcasts`,
    headers: {
      ...JSON_HEADERS,
      ...random.pick([
        {},
        { Authorization: "Bearer " },
        { Authorization: "Bearer wrong-key" },
        { Authorization: "Basic dXNlcjpwYXNz" },
        { Authorization: `Bearer ${"k".repeat(5000)}` },
        { Authorization: "Bearer eyJhbGciOiJub25lIn0.eyJ1c2VyX2lkIjoiMSIsImlzX3N0YWZmIjp0cnVlfQ." },
      ]),
    },
    body: json({ message: "hi" }),
    statuses: [401, 403],
    codes: ["unauthorized", "forbidden"],
  }),
  (random, auth) => ({
    category: "HTTP bad user id in path",
    method: random.pick(["GET", "POST"]),
    path: `${API}/users/${random.pick(["%00", "a%20b", "x".repeat(65), "%F0%9F%98%80", "..", "%2e%2e", "u%0au"])}/${random.pick(["status", "notifications", "messages"])}`,
    headers: { ...auth, ...JSON_HEADERS },
    body: json({ title: "t", message: "m", from_user_id: "u1" }),
    statuses: [400, 404, 405],
    codes: ["validation_failed", "not_found", "user_not_found"],
  }),
  (random, auth) => ({
    category: "HTTP bad group name in path",
    method: "POST",
    path: `${API}/groups/${random.pick(["nope_x", "%00", "x".repeat(129), "group_%20", "group_*"])}/messages`,
    headers: { ...auth, ...JSON_HEADERS },
    body: json({ message_type: "t", data: {} }),
    statuses: [400, 403, 404],
    codes: ["invalid_group", "validation_failed", "forbidden", "not_found"],
  }),
  (random, auth, targets) => ({
    category: "HTTP invalid JSON body",
    method: "POST",
    path: random.pick([
      `${API}/users/${targets.sink}/notifications`,
      `${API}/users/${targets.sink}/messages`,
      `${API}/broadcasts`,
      `${API}/groups/group_fuzz/messages`,
    ]),
    headers: { ...auth, ...JSON_HEADERS },
    body: random.pick(["{", "", "nul", "{'a':1}", '{"title":', "\u0000", "[1,"]),
    statuses: [400],
    codes: ["invalid_json", "validation_failed"],
  }),
  (random, auth, targets) => ({
    category: "HTTP wrong body shape",
    method: "POST",
    path: `${API}/users/${targets.sink}/notifications`,
    headers: { ...auth, ...JSON_HEADERS },
    body: json(
      random.pick([
        null,
        42,
        "text",
        [],
        {},
        { title: "t" },
        { message: "m" },
        { title: 1, message: "m" },
        { title: "", message: "m" },
        { title: "t".repeat(257), message: "m" },
        { title: "t", message: "m".repeat(8193) },
      ]),
    ),
    statuses: [400],
    codes: ["validation_failed", "invalid_json"],
  }),
  (random, auth, targets) => {
    const bad = random.pick(UNSTORABLE);
    const [path, body] = random.pick([
      [`${API}/users/${targets.sink}/notifications`, `{"title":"${bad}","message":"m"}`],
      [`${API}/users/${targets.sink}/notifications`, `{"title":"t","message":"${bad}"}`],
      [
        `${API}/users/${targets.sink}/notifications`,
        `{"title":"t","message":"m","data":{"k":"${bad}"}}`,
      ],
      [
        `${API}/users/${targets.sink}/notifications`,
        `{"title":"t","message":"m","data":{"${bad}":1}}`,
      ],
      [`${API}/users/${targets.sink}/messages`, `{"from_user_id":"fuzz-http","message":"${bad}"}`],
      [`${API}/groups/group_fuzz/messages`, `{"message_type":"t","data":{"x":["${bad}"]}}`],
      [`${API}/broadcasts`, `{"message":"${bad}"}`],
    ] as const);
    return {
      category: "HTTP NUL or lone surrogate",
      method: "POST",
      path,
      headers: { ...auth, ...JSON_HEADERS },
      body,
      statuses: [400],
      codes: ["validation_failed"],
    };
  },
  (random, auth, targets) => ({
    category: "HTTP unsafe integer id",
    method: "POST",
    path: `${API}/users/${targets.sink}/messages`,
    headers: { ...auth, ...JSON_HEADERS },
    body: `{"from_user_id":${random.pick([UNSAFE_INTEGER, `-${UNSAFE_INTEGER}`, "1e300"])},"message":"hi"}`,
    statuses: [400],
    codes: ["validation_failed"],
  }),
  (random, auth, targets) => {
    const depth = random.pick([33, 40, 100, 1_000]);
    return {
      category: "HTTP data nested deeper than 32",
      method: "POST",
      path: random.pick([
        `${API}/users/${targets.sink}/notifications`,
        `${API}/groups/group_fuzz/messages`,
      ]),
      headers: { ...auth, ...JSON_HEADERS },
      body: `{"title":"t","message":"m","message_type":"t","data":${nested(depth)}}`,
      statuses: [400],
      codes: ["validation_failed"],
    };
  },
  (random, auth, targets) => ({
    category: "HTTP body over 64 KiB",
    method: "POST",
    path: `${API}/users/${targets.sink}/notifications`,
    headers: { ...auth, ...JSON_HEADERS },
    body: json({
      title: "t",
      message: "m",
      data: { pad: "p".repeat(FRAME_LIMIT + random.int(200_000)) },
    }),
    statuses: [413, 400],
    codes: ["message_too_large", "validation_failed"],
  }),
  (random, auth, targets) => ({
    category: "HTTP binary or wrong content type",
    method: "POST",
    path: `${API}/users/${targets.sink}/notifications`,
    headers: {
      ...auth,
      "Content-Type": random.pick([
        "application/octet-stream",
        "text/plain",
        "multipart/form-data",
      ]),
    },
    body: Uint8Array.from({ length: 1 + random.int(256) }, () => random.int(256)),
    statuses: [400, 415],
    codes: [],
  }),
];

export function httpCase(random: Random, auth: Record<string, string>, targets: Targets): HttpCase {
  return random.pick(HTTP_GENERATORS)(random, auth, targets);
}

/** Upgrades with bad tokens: refused with 401 before the upgrade (never a 101 and a close). */
export const BAD_TOKENS: ReadonlyArray<{ label: string; token: string }> = [
  { label: "garbage", token: "garbage" },
  { label: "empty segments", token: ".." },
  { label: "alg none", token: "eyJhbGciOiJub25lIn0.eyJ1c2VyX2lkIjoiMSIsImV4cCI6OTk5OTk5OTk5OX0." },
  { label: "huge", token: "a".repeat(6000) },
  { label: "not base64", token: "!!!.???.***" },
];
