// npm run soak [-- --minutes N] [--sample-seconds S] [--out FILE]
//
// Soak: the gateway on `workerd serve` (storage on disk, Redis and Postgres mirrors on) under
// mixed traffic at a moderate rate for N minutes (default 30): direct messages, notifications
// over HTTP, group messages, get_status, and reconnect churn. Every S seconds (default 60) it
// samples what must not grow without bound:
//   - workerd's resident memory (RSS, /proc);
//   - mirror lag: a probe user connects and then leaves; how long until Redis (`online_users`)
//     and Postgres (`realtime_presence`) say so (the offline figure minus PRESENCE_GRACE_MS);
//   - outbox depth: notifications the API accepted that are not in Postgres's `notifications`
//     table yet (the notification outbox, counted from outside), and the users `/health` lists
//     as `behind` (presence outbox entries whose write failed and waits for a retry);
// plus direct-message latency and error counts. Writes bench/results/soak.json and soak.svg.
// Not part of CI: it takes as long as you ask.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SignJWT } from "jose";
import WebSocket from "ws";
import { killAllChildren } from "../dev/server-process.ts";
import { REPO_ROOT } from "../dev/workerd-runtime.ts";
import { startWorkerdServer } from "../dev/workerd-server.ts";
import { createDatabase, openMirrorProbe } from "../test/e2e/mirror-probe.ts";
import { type Frame, FrameQueue, sleep } from "../test/helpers/frames.ts";
import { type SoakReport, type SoakSample, soakSvg, verdicts } from "./report/soak.ts";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "30" },
    "sample-seconds": { type: "string", default: "60" },
    out: { type: "string", default: join(REPO_ROOT, "bench/results/soak.json") },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write(
    "usage: npm run soak [-- --minutes N (default 30)] [--sample-seconds S (default 60)] [--out bench/results/soak.json]\n",
  );
  process.exit(0);
}
const MINUTES = Number(values.minutes);
const SAMPLE_MS = Number(values["sample-seconds"]) * 1000;
if (!(MINUTES > 0) || !(SAMPLE_MS >= 5_000)) {
  process.stderr.write("--minutes must be > 0 and --sample-seconds ≥ 5\n");
  process.exit(2);
}

/** The traffic, per second. Moderate: a few percent of what the gateway delivers here. */
const RATE = {
  users: 40,
  groups: 4,
  directMessages: 8,
  notifications: 2,
  groupMessages: 3,
  statusQueries: 1,
  /** One socket closed and reopened every this many milliseconds. */
  reconnectEveryMs: 2_000,
};
const GRACE_MS = 1_000;
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const secret = randomBytes(32).toString("hex");
const apiKey = randomBytes(24).toString("hex");
const log = (line: string) => process.stdout.write(`[soak ${new Date().toISOString()}] ${line}\n`);

const key = new TextEncoder().encode(secret);
function token(userId: string): Promise<string> {
  return new SignJWT({ user_id: userId, username: userId, groups: ["group_soak_*"] })
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime(Math.floor(Date.now() / 1000) + MINUTES * 60 + 3_600)
    .sign(key);
}

interface Socket {
  ws: WebSocket;
  connectionId: string;
  closed: Promise<void>;
}

let gateway = "";
/** A socket once connection_established arrived; later frames go to the listeners only. */
async function open(userId: string): Promise<Socket> {
  const ws = new WebSocket(`${gateway.replace(/^http/, "ws")}/ws/user/`, {
    headers: { Authorization: `Bearer ${await token(userId)}` },
  });
  const frames = new FrameQueue();
  const collect = (data: WebSocket.RawData) => frames.push(data.toString());
  ws.on("message", collect);
  ws.on("error", () => undefined);
  const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade ${res.statusCode}`)));
    ws.once("error", reject);
  });
  const established = await frames.next("connection_established", 10_000);
  // Long-lived sockets must not keep every frame (the soak runs for hours if asked to).
  ws.off("message", collect);
  return { ws, connectionId: String(established.data.connection_id), closed };
}

async function closeSocket(socket: Socket): Promise<void> {
  socket.ws.close(1000);
  const timeout = sleep(10_000).then(() => socket.ws.terminate());
  await Promise.race([socket.closed, timeout]);
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

// --- counters of the current sample window -------------------------------------------------------
const window = {
  dmLatencies: [] as number[],
  sent: 0,
  acked: 0,
  errors: {} as Record<string, number>,
};
const totals = {
  sent: 0,
  acked: 0,
  notificationsAccepted: 0,
  errors: {} as Record<string, number>,
};
const sentAt = new Map<string, number>();

function countError(code: string): void {
  window.errors[code] = (window.errors[code] ?? 0) + 1;
  totals.errors[code] = (totals.errors[code] ?? 0) + 1;
}

const round1 = (value: number | null) => (value === null ? null : Math.round(value * 10) / 10);

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? null;
}

const users = Array.from({ length: RATE.users }, (_, i) => `soak-u${i}`);
const groupOf = (userId: string) => `group_soak_${users.indexOf(userId) % RATE.groups}`;
const sockets = new Map<string, Socket>();
let counter = 0;

function watch(socket: Socket): void {
  socket.ws.on("message", (data) => {
    const frame = JSON.parse(data.toString()) as Frame;
    if (frame.type === "user_message") {
      const started = sentAt.get(String(frame.data?.message));
      if (started !== undefined) {
        window.dmLatencies.push(performance.now() - started);
        sentAt.delete(String(frame.data?.message));
      }
    } else if (frame.type === "message_sent" && frame.data?.target_user_id !== undefined) {
      window.acked += 1;
      totals.acked += 1;
    } else if (frame.type === "error") {
      countError(String(frame.data?.code));
    }
  });
}

async function connectUser(userId: string): Promise<void> {
  const socket = await open(userId);
  watch(socket);
  socket.ws.send(JSON.stringify({ type: "join_group", data: { group_name: groupOf(userId) } }));
  sockets.set(userId, socket);
}

function send(userId: string, frame: unknown): void {
  const socket = sockets.get(userId);
  if (socket?.ws.readyState === WebSocket.OPEN) socket.ws.send(JSON.stringify(frame));
}

async function api(method: string, path: string, body?: unknown): Promise<number> {
  const response = await fetch(`${gateway}${path}`, {
    method,
    headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  await response.arrayBuffer();
  if (response.status >= 400) countError(`http_${response.status}`);
  return response.status;
}

/** One second of traffic, spread evenly over the second. */
async function trafficSecond(): Promise<void> {
  const actions: Array<() => unknown> = [];
  for (let i = 0; i < RATE.directMessages; i++) {
    actions.push(() => {
      const from = pick(users);
      let to = pick(users);
      if (to === from) to = users[(users.indexOf(from) + 1) % users.length] as string;
      const text = `dm-${++counter}`;
      sentAt.set(text, performance.now());
      window.sent += 1;
      totals.sent += 1;
      send(from, { type: "send_message", data: { target_user_id: to, message: text } });
    });
  }
  for (let i = 0; i < RATE.notifications; i++) {
    actions.push(async () => {
      const status = await api("POST", `/api/v1/users/${pick(users)}/notifications`, {
        title: "soak",
        message: `n-${++counter}`,
        data: { n: counter },
      });
      if (status === 200 || status === 201) totals.notificationsAccepted += 1;
    });
  }
  for (let i = 0; i < RATE.groupMessages; i++) {
    actions.push(() => {
      const from = pick(users);
      send(from, {
        type: "group_message",
        data: { group_name: groupOf(from), message: `g-${++counter}` },
      });
    });
  }
  for (let i = 0; i < RATE.statusQueries; i++) {
    actions.push(() =>
      send(pick(users), {
        type: "get_status",
        data: { user_ids: Array.from({ length: 5 }, () => pick(users)) },
      }),
    );
  }
  const gap = 1_000 / actions.length;
  const pending: Promise<unknown>[] = [];
  for (const action of actions.sort(() => Math.random() - 0.5)) {
    pending.push(Promise.resolve(action()).catch((err: unknown) => countError(String(err))));
    await sleep(gap);
  }
  await Promise.all(pending);
}

async function churn(stop: () => boolean): Promise<void> {
  while (!stop()) {
    await sleep(RATE.reconnectEveryMs);
    const userId = pick(users);
    const socket = sockets.get(userId);
    sockets.delete(userId);
    try {
      if (socket) await closeSocket(socket);
      await sleep(200);
      await connectUser(userId);
    } catch (err) {
      countError(`reconnect: ${String(err)}`);
    }
  }
}

async function main(): Promise<void> {
  const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT })
    .stdout.toString()
    .trim();
  const dirty =
    spawnSync("git", ["status", "--porcelain", "--", "src", "wrangler.toml"], { cwd: REPO_ROOT })
      .stdout.toString()
      .trim() !== "";
  const database = await createDatabase("soak");
  const redisKeyPrefix = `soak:${randomBytes(4).toString("hex")}:`;
  const workDir = mkdtempSync(join(tmpdir(), "gateway-soak-"));
  log(`workerd serve, storage in ${workDir}, ${MINUTES} min, sample every ${SAMPLE_MS / 1000} s`);
  const stack = await startWorkerdServer({
    dataDir: workDir,
    port: 0,
    devVars: {},
    env: {
      DATABASE_URL: database.url,
      REDIS_KEY_PREFIX: redisKeyPrefix,
      JWT_SECRET: secret,
      API_KEY: apiKey,
    },
    redisUrl: REDIS_URL,
    vars: { PRESENCE_GRACE_MS: String(GRACE_MS) },
  });
  gateway = stack.url;
  const probe = await openMirrorProbe({
    databaseUrl: database.url,
    redisUrl: REDIS_URL,
    redisKeyPrefix,
  });
  const samples: SoakSample[] = [];
  const started = Date.now();
  let stopping = false;
  const cleanup = async () => {
    await stack.stop();
    const keys = await probe.redis.keys(`${redisKeyPrefix}*`).catch(() => [] as string[]);
    if (keys.length > 0) await probe.redis.del(...keys).catch(() => undefined);
    await probe.close().catch(() => undefined);
    await database.drop().catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
  };
  try {
    for (const userId of users) await connectUser(userId);
    log(`${users.length} users connected; traffic starts`);
    const traffic = (async () => {
      while (!stopping) await trafficSecond();
    })();
    const churning = churn(() => stopping);

    const probeUser = "soak-probe";
    const until = async (
      check: () => Promise<boolean>,
      limitMs = 60_000,
    ): Promise<number | null> => {
      const t0 = performance.now();
      while (performance.now() - t0 < limitMs) {
        if (await check().catch(() => false)) return Math.round(performance.now() - t0);
        await sleep(25);
      }
      return null;
    };
    for (
      let next = started + SAMPLE_MS;
      next <= started + MINUTES * 60_000 + 1_000;
      next += SAMPLE_MS
    ) {
      await sleep(Math.max(0, next - Date.now()));
      const probeSocket = await open(probeUser);
      const [redisOnline, postgresOnline] = await Promise.all([
        until(async () => (await probe.redisView(probeUser)).online),
        until(async () => (await probe.presence(probeUser))?.is_online === true),
      ]);
      await closeSocket(probeSocket);
      const [redisOffline, postgresOffline] = await Promise.all([
        until(async () => !(await probe.redisView(probeUser)).online),
        until(async () => (await probe.presence(probeUser))?.is_online === false),
      ]);
      const health = (await (await fetch(`${gateway}/health`)).json()) as {
        status: string;
        behind?: Record<string, { users: number }>;
      };
      const [row] = await probe.sql<{ n: string }>("select count(*) as n from notifications");
      const recorded = Number(row?.n ?? 0);
      const afterGrace = (ms: number | null) => (ms === null ? null : Math.max(0, ms - GRACE_MS));
      const sample: SoakSample = {
        minute: Math.round(((Date.now() - started) / 60_000) * 100) / 100,
        rssMb: Math.round(((stack.rssBytes() ?? 0) / 2 ** 20) * 10) / 10,
        mirrorLagMs: {
          redisOnline,
          postgresOnline,
          redisOffline: afterGrace(redisOffline),
          postgresOffline: afterGrace(postgresOffline),
        },
        outbox: {
          notificationsPending: totals.notificationsAccepted - recorded,
          healthBehindUsers: Object.values(health.behind ?? {}).reduce((n, b) => n + b.users, 0),
        },
        health: health.status,
        dm: {
          sent: window.sent,
          acked: window.acked,
          p50Ms: round1(percentile(window.dmLatencies, 50)),
          p99Ms: round1(percentile(window.dmLatencies, 99)),
        },
        errors: { ...window.errors },
      };
      samples.push(sample);
      log(JSON.stringify(sample));
      // DMs to a socket that was being reconnected are not seen live (they wait in the mailbox).
      for (const [text, at] of sentAt) if (performance.now() - at > 60_000) sentAt.delete(text);
      window.dmLatencies = [];
      window.sent = 0;
      window.acked = 0;
      window.errors = {};
    }
    stopping = true;
    await Promise.all([traffic, churning]);
    for (const socket of sockets.values()) await closeSocket(socket);
    const report: SoakReport = {
      startedAt: new Date(started).toISOString(),
      commit: dirty ? `${commit} (with uncommitted changes in src/)` : commit,
      runtime: "workerd serve, Durable Object storage on disk, Redis and Postgres mirrors on",
      minutes: MINUTES,
      sampleSeconds: SAMPLE_MS / 1000,
      rate: RATE,
      presenceGraceMs: GRACE_MS,
      totals,
      samples,
      verdicts: verdicts(samples),
    };
    writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(values.out.replace(/\.json$/, ".svg"), soakSvg(report));
    log(`wrote ${values.out} and the chart; verdicts: ${JSON.stringify(report.verdicts)}`);
    if (report.verdicts.some((v) => v.grew)) process.exitCode = 1;
  } finally {
    stopping = true;
    await cleanup();
  }
}

process.on("SIGINT", () => {
  killAllChildren();
  process.exit(130);
});
main().catch((err: unknown) => {
  process.stderr.write(
    `soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  killAllChildren();
  process.exit(1);
});
