/**
 * The black-box fuzzer: sends generated bad frames (cases.ts) over several sockets and bad HTTP
 * requests to a running gateway, while two other users exchange direct messages as a probe.
 * It checks what a user would see:
 *   - every frame is answered, with a typed `error` (a code of src/protocol/errors.ts, never
 *     `internal`) or, for an odd but valid frame, a normal reply; the socket stays open;
 *   - every HTTP answer is below 500, and an error carries `{ error: { code } }` with a known code;
 *   - bad tokens are refused with 401 before the upgrade;
 *   - the probe's direct messages all arrive, and their median latency during the fuzz stays
 *     within a bound of the median before it;
 *   - (the caller) the gateway's log has no `internal` error or uncaught exception.
 * Bounded by a number of inputs and by time; it stops by itself.
 */
import WebSocket from "ws";
import { ERROR_CODES } from "../../src/protocol/errors.ts";
import { type Frame, FrameQueue, sleep } from "../helpers/frames.ts";
import {
  BAD_TOKENS,
  type Expectation,
  type FrameCase,
  frameCase,
  type HttpCase,
  httpCase,
  Random,
  type Targets,
} from "./cases.ts";

export interface FuzzOptions {
  /** The gateway, e.g. "http://127.0.0.1:8787". */
  gateway: string;
  apiKey: string;
  /** A valid access token for this user id. */
  mint(userId: string): Promise<string>;
  /** Socket frames to send in all. Default 600. */
  frames?: number;
  /** HTTP requests to send in all. Default 300. */
  requests?: number;
  /** Stop sending after this many seconds even if inputs are left. Default 60. */
  seconds?: number;
  /** Sockets fuzzing in parallel, each its own user. Default 6. */
  sockets?: number;
  /**
   * Pause after each answer on one socket, in ms. Default 60: with the answer's round trip that
   * stays under the per-connection limit (20 frames/s, burst 40), so the fuzz never earns the
   * documented abuse close (1008).
   */
  pacingMs?: number;
  /** HTTP requests in flight. Default 3. */
  httpConcurrency?: number;
  seed?: number;
  /** Unique prefix for user ids, so runs do not share actors. */
  runId?: string;
  log?: (line: string) => void;
}

export interface Violation {
  kind: "socket" | "http" | "upgrade" | "probe";
  category: string;
  problem: string;
  input: string;
  answer: string;
}

export interface FuzzReport {
  seed: number;
  framesSent: number;
  requestsSent: number;
  upgradesTried: number;
  /** Inputs per category, and how many were answered as expected. */
  categories: Record<string, { sent: number; ok: number }>;
  /** Error codes seen on sockets and over HTTP. */
  codes: Record<string, number>;
  violations: Violation[];
  probe: { beforeP50Ms: number; duringP50Ms: number; sent: number; received: number };
  seconds: number;
}

/** Answers that are not pushes: what a request gets back. */
const REPLY_TYPES = new Set([
  "error",
  "pong",
  "status_response",
  "message_sent",
  "group_joined",
  "group_left",
  "resumed",
  "token_refreshed",
]);
const ANSWER_TIMEOUT_MS = 10_000;
const KNOWN_CODES = new Set<string>(ERROR_CODES);

const clip = (text: string, max = 160) =>
  text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;

function describeInput(frame: string | Uint8Array): string {
  return typeof frame === "string"
    ? clip(frame)
    : `<binary ${frame.length} bytes: ${Buffer.from(frame.slice(0, 16)).toString("hex")}…>`;
}

interface Socket {
  ws: WebSocket;
  frames: FrameQueue;
}

async function openSocket(gateway: string, token: string): Promise<Socket> {
  const ws = new WebSocket(`${gateway.replace(/^http/, "ws")}/ws/user/`, {
    headers: { Authorization: `Bearer ${token}` },
    maxPayload: 1024 * 1024,
  });
  const frames = new FrameQueue();
  ws.on("message", (data) => {
    try {
      frames.push(data.toString());
    } catch {
      // A frame that is not JSON is itself a finding; keep it visible as a pseudo-frame.
      frames.push(JSON.stringify({ type: "<not JSON>", data: { raw: clip(data.toString()) } }));
    }
  });
  ws.on("close", (code, reason) => frames.close(code, reason.toString()));
  ws.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade ${res.statusCode}`)));
    ws.once("error", reject);
  });
  await frames.next("connection_established", ANSWER_TIMEOUT_MS);
  return { ws, frames };
}

function judgeFrame(answer: Frame, expect: Expectation): string | null {
  if (answer.type !== "error") {
    return expect.mayAccept ? null : `accepted (${answer.type}) instead of an error`;
  }
  const code = String(answer.data?.code);
  if (code === "internal") return "answered with internal";
  if (!KNOWN_CODES.has(code)) return `unknown error code ${code}`;
  // "Later" is always a correct answer: a budget or a dependency, never the input's fault.
  if (code === "rate_limited" || code === "unavailable") return null;
  if (expect.codes.length > 0 && !expect.codes.includes(code))
    return `error ${code}, expected ${expect.codes.join(" or ")}`;
  return null;
}

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Direct messages from one user to another every `everyMs`; latencies per phase. */
class Probe {
  private readonly latencies: number[] = [];
  sent = 0;
  received = 0;
  private running = true;
  private loop: Promise<void> = Promise.resolve();

  private readonly from: Socket;

  constructor(from: Socket, to: Socket) {
    this.from = from;
    to.ws.on("message", (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      if (frame.type !== "user_message") return;
      const at = Number(/^probe:(\d+(?:\.\d+)?)$/.exec(String(frame.data?.message))?.[1]);
      if (Number.isFinite(at)) {
        this.received += 1;
        this.latencies.push(performance.now() - at);
      }
    });
  }

  start(targetUserId: string, everyMs: number): void {
    this.loop = (async () => {
      while (this.running) {
        this.sent += 1;
        this.from.ws.send(
          JSON.stringify({
            type: "send_message",
            data: { target_user_id: targetUserId, message: `probe:${performance.now()}` },
          }),
        );
        await sleep(everyMs);
      }
    })();
  }

  /** Median latency of the messages received since the last call. */
  takeMedian(): number {
    return median(this.latencies.splice(0));
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const seed = options.seed ?? Date.now() % 2 ** 31;
  const random = new Random(seed);
  const run = options.runId ?? `fz${seed.toString(36)}`;
  const log = options.log ?? (() => {});
  const deadline = performance.now() + (options.seconds ?? 60) * 1000;
  const framesWanted = options.frames ?? 600;
  const requestsWanted = options.requests ?? 300;
  const pacingMs = options.pacingMs ?? 60;
  const started = performance.now();
  const report: FuzzReport = {
    seed,
    framesSent: 0,
    requestsSent: 0,
    upgradesTried: 0,
    categories: {},
    codes: {},
    violations: [],
    probe: { beforeP50Ms: Number.NaN, duringP50Ms: Number.NaN, sent: 0, received: 0 },
    seconds: 0,
  };
  const tally = (category: string, ok: boolean) => {
    const entry = report.categories[category] ?? { sent: 0, ok: 0 };
    report.categories[category] = entry;
    entry.sent += 1;
    if (ok) entry.ok += 1;
  };
  const violation = (v: Violation) => {
    report.violations.push(v);
    if (report.violations.length <= 50)
      log(`VIOLATION ${v.kind} [${v.category}] ${v.problem}: ${v.input} -> ${v.answer}`);
  };

  // The probe: two users who are not fuzzing, and a sink the fuzz may send to.
  const mint = (userId: string) => options.mint(`${run}-${userId}`);
  const probeFrom = await openSocket(options.gateway, await mint("probe-a"));
  const probeTo = await openSocket(options.gateway, await mint("probe-b"));
  const sink = await openSocket(options.gateway, await mint("sink"));
  const targets: Targets = { sink: `${run}-sink` };
  const probe = new Probe(probeFrom, probeTo);
  probe.start(`${run}-probe-b`, 100);
  await sleep(3_000);
  report.probe.beforeP50Ms = probe.takeMedian();

  // Sockets that fuzz, each its own user (the per-user budget is not what is fuzzed here).
  const fuzzers: Socket[] = [];
  for (let i = 0; i < (options.sockets ?? 6); i++) {
    fuzzers.push(await openSocket(options.gateway, await mint(`fuzz-${i}`)));
  }
  let framesLeft = framesWanted;
  const fuzzSocket = async (index: number) => {
    let socket = fuzzers[index] as Socket;
    while (framesLeft > 0 && performance.now() < deadline) {
      framesLeft -= 1;
      const c: FrameCase = frameCase(random, targets);
      const before = socket.frames.received.length;
      socket.ws.send(c.frame);
      report.framesSent += 1;
      let answer: Frame | null = null;
      try {
        answer = await socket.frames.next(
          (f) => REPLY_TYPES.has(f.type) && socket.frames.received.indexOf(f) >= before,
          ANSWER_TIMEOUT_MS,
        );
      } catch {
        answer = null;
      }
      if (answer?.type === "error" && typeof answer.data?.code === "string") {
        report.codes[answer.data.code] = (report.codes[answer.data.code] ?? 0) + 1;
      }
      const closed = socket.frames.closed;
      let problem: string | null;
      if (closed !== null) problem = `socket closed (${closed.code} ${closed.reason})`;
      else if (answer === null) problem = `no answer within ${ANSWER_TIMEOUT_MS} ms`;
      else problem = judgeFrame(answer, c.expect);
      tally(c.category, problem === null);
      if (problem !== null) {
        violation({
          kind: "socket",
          category: c.category,
          problem,
          input: describeInput(c.frame),
          answer: clip(JSON.stringify(answer ?? closed)),
        });
      }
      if (closed !== null) {
        // Go on with a new socket so one finding does not end the run.
        socket = await openSocket(
          options.gateway,
          await mint(`fuzz-${index}-${report.framesSent}`),
        );
      }
      await sleep(pacingMs);
    }
    socket.ws.close(1000);
  };

  const auth = { Authorization: `Bearer ${options.apiKey}` };
  let requestsLeft = requestsWanted;
  const fuzzHttp = async () => {
    while (requestsLeft > 0 && performance.now() < deadline) {
      requestsLeft -= 1;
      const c: HttpCase = httpCase(random, auth, targets);
      report.requestsSent += 1;
      const input = `${c.method} ${clip(c.path, 80)} ${c.body === undefined ? "" : describeInput(c.body)}`;
      let status = 0;
      let text = "";
      try {
        const response = await fetch(`${options.gateway}${c.path}`, {
          method: c.method,
          headers: c.headers,
          body: c.method === "GET" || c.method === "HEAD" ? undefined : c.body,
        });
        status = response.status;
        text = await response.text();
      } catch (err) {
        text = `request failed: ${String(err)}`;
      }
      const problem = judgeHttp(c, status, text, report.codes);
      tally(c.category, problem === null);
      if (problem !== null) {
        violation({
          kind: "http",
          category: c.category,
          problem,
          input,
          answer: `${status} ${clip(text)}`,
        });
      }
    }
  };

  const fuzzUpgrades = async () => {
    for (const { label, token } of BAD_TOKENS) {
      for (const via of ["query", "header", "subprotocol"] as const) {
        const category = `upgrade with a bad token (${via})`;
        const outcome = await tryUpgrade(options.gateway, token, via);
        if (outcome.status === "unsendable") continue;
        report.upgradesTried += 1;
        const ok = outcome.status === 401 && outcome.code === "unauthorized";
        tally(category, ok);
        if (!ok) {
          violation({
            kind: "upgrade",
            category,
            problem: `expected 401 unauthorized before the upgrade`,
            input: `${label} token via ${via}`,
            answer: clip(JSON.stringify(outcome)),
          });
        }
      }
    }
  };

  await Promise.all([
    ...fuzzers.map((_, i) => fuzzSocket(i)),
    ...Array.from({ length: options.httpConcurrency ?? 3 }, fuzzHttp),
    fuzzUpgrades(),
  ]);
  report.probe.duringP50Ms = probe.takeMedian();
  await probe.stop();
  // The last probe messages are still on their way: give them a moment, then count.
  await sleep(1_000);
  report.probe.sent = probe.sent;
  report.probe.received = probe.received;
  if (probe.received < probe.sent) {
    violation({
      kind: "probe",
      category: "other users' traffic",
      problem: `${probe.sent - probe.received} of ${probe.sent} probe messages did not arrive`,
      input: "probe DMs",
      answer: "",
    });
  }
  for (const s of [probeFrom, probeTo, sink]) s.ws.close(1000);
  report.seconds = Math.round((performance.now() - started) / 100) / 10;
  return report;
}

function judgeHttp(
  c: HttpCase,
  status: number,
  text: string,
  codes: Record<string, number>,
): string | null {
  if (status === 0) return text;
  if (status >= 500 && status !== 503) return `HTTP ${status}`;
  if (status < 400) {
    return c.statuses.some((s) => s < 400) ? null : `accepted (HTTP ${status}) instead of an error`;
  }
  let code: unknown;
  try {
    code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
  } catch {
    return `HTTP ${status} without a JSON error body`;
  }
  if (typeof code !== "string" || !KNOWN_CODES.has(code))
    return `HTTP ${status} without a known error code`;
  codes[`http:${code}`] = (codes[`http:${code}`] ?? 0) + 1;
  if (code === "internal") return "answered with internal";
  // "Later" (a rate limit, a dependency down) is typed and fine; everything else 5xx is not.
  if ((status === 429 && code === "rate_limited") || (status === 503 && code === "unavailable"))
    return null;
  if (status >= 500) return `HTTP ${status} ${code}`;
  if (!c.statuses.includes(status))
    return `HTTP ${status} ${code}, expected ${c.statuses.join("/")}`;
  if (c.codes.length > 0 && !c.codes.includes(code))
    return `error ${code}, expected ${c.codes.join(" or ")}`;
  return null;
}

/** An upgrade attempt: the HTTP status and error code it was refused with, or "opened". */
function tryUpgrade(
  gateway: string,
  token: string,
  via: "query" | "header" | "subprotocol",
): Promise<{ status: number | "opened" | "unsendable"; code?: string }> {
  const base = `${gateway.replace(/^http/, "ws")}/ws/user/`;
  const url = via === "query" ? `${base}?token=${encodeURIComponent(token)}` : base;
  let ws: WebSocket;
  try {
    ws = new WebSocket(url, via === "subprotocol" ? ["bearer", token] : undefined, {
      headers: via === "header" ? { Authorization: `Bearer ${token}` } : {},
    });
  } catch {
    // Not a valid subprotocol token or header value: no client can send it.
    return Promise.resolve({ status: "unsendable" });
  }
  return new Promise((resolve) => {
    ws.on("error", () => resolve({ status: 0 }));
    ws.on("open", () => {
      ws.terminate();
      resolve({ status: "opened" });
    });
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => {
        let code: string | undefined;
        try {
          code = String((JSON.parse(body) as { error?: { code?: unknown } }).error?.code);
        } catch {
          code = undefined;
        }
        resolve({ status: res.statusCode ?? 0, code });
      });
    });
  });
}

/** Lines of a gateway log that show an `internal` error or an uncaught exception. */
export function internalErrorLines(log: string): string[] {
  return log
    .split("\n")
    .filter((line) =>
      /:webSocketMessage:|api:onError|worker:onError|RealtimeService:run|Uncaught|uncaught|"code":"internal"|\binternal error\b/.test(
        line,
      ),
    )
    .filter((line) => !NOT_FROM_INPUT.some((pattern) => pattern.test(line)));
}

/**
 * Log lines that bad input cannot cause, seen when the machine is loaded:
 * - a Postgres session dropped under load ("Connection terminated unexpectedly"): workerd
 *   logs an error thrown by an actor's RPC method (PostgresQueue) as "Uncaught" even though
 *   its caller handles it (the mirror write is retried, the lookup answers `unavailable`);
 * - "Can't call WebSocket send() after close()": every send of the gateway goes through
 *   SocketSet.send, which catches exactly this, or follows `accept()` on a socket not yet
 *   closed. We take it to come from the `wrangler dev` proxy in front of the Worker relaying
 *   a socket the fuzzer closed (not verified: the line has no stack).
 */
const NOT_FROM_INPUT = [
  /MirrorWriteError: postgres mirror: Connection terminated/,
  /Can't call WebSocket send\(\) after close\(\)/,
];

/** A readable summary of a report (one line per category with violations). */
export function summarize(report: FuzzReport): string {
  const lines = [
    `fuzz seed ${report.seed}: ${report.framesSent} frames, ${report.requestsSent} HTTP requests, ${report.upgradesTried} upgrades in ${report.seconds} s; ${report.violations.length} violations`,
    `probe DM p50: ${report.probe.beforeP50Ms.toFixed(1)} ms before, ${report.probe.duringP50Ms.toFixed(1)} ms during; ${report.probe.received}/${report.probe.sent} arrived`,
  ];
  const byCategory = new Map<string, Violation[]>();
  for (const v of report.violations) {
    byCategory.set(v.category, [...(byCategory.get(v.category) ?? []), v]);
  }
  for (const [category, found] of byCategory) {
    const first = found[0] as Violation;
    lines.push(
      `  ${category}: ${found.length} × e.g. ${first.problem}; input ${first.input}; answer ${first.answer}`,
    );
  }
  return lines.join("\n");
}
