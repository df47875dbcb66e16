// npm run bench:overload [-- --rate=3200 --seconds=8 --drain=10 --server=gateway-workerd]
//                        [--project-var NAME=VALUE]
//
// Direct messages offered open-loop above what the gateway delivers (default 3,200 msg/s,
// about twice what `workerd serve` delivers on the reference machine), pairs of users at
// 10 msg/s per socket, then a drain of 10 s after the last send. Every send carries a request
// id, so each answer and each arrival is matched to its send. Prints what the issue counts:
// latency of the acknowledged messages (send to arrival, p50/p99), answers
// (message_sent / unavailable / other errors / none by the end of the drain), acknowledged
// messages not arrived, duplicates, and arrivals of messages that were refused. Bounded: one
// server, one step, stops by itself; the server's whole process tree is killed on exit.
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { killAllChildren } from "../dev/server-process.ts";
import { REPO_ROOT } from "../dev/workerd-runtime.ts";
import { inPool } from "./driver/fleet.ts";
import { percentiles, roundPercentiles } from "./driver/stats.ts";
import { benchUser, TokenMint } from "./driver/tokens.ts";
import { TARGETS } from "./servers/targets.ts";

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "3200" },
    seconds: { type: "string", default: "8" },
    drain: { type: "string", default: "10" },
    "per-socket": { type: "string", default: "10" },
    server: { type: "string", default: "gateway-workerd" },
    "project-var": { type: "string", multiple: true, default: [] },
  },
  strict: true,
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const drainSeconds = Number(values.drain);
const perSocket = Number(values["per-socket"]);
const projectVars: Record<string, string> = {};
for (const pair of values["project-var"]) {
  const eq = pair.indexOf("=");
  if (eq > 0) projectVars[pair.slice(0, eq)] = pair.slice(eq + 1);
}
const target = TARGETS.find((t) => t.id === values.server);
if (!target) throw new Error(`unknown server ${values.server}`);

process.on("exit", killAllChildren);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killAllChildren();
    process.exit(130);
  });
}
setTimeout(
  () => {
    process.stderr.write("bench:overload: over its time budget, stopping\n");
    killAllChildren();
    process.exit(1);
  },
  (seconds + drainSeconds + 240) * 1000,
).unref();

const started = Date.now();
const log = (line: string) =>
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);

interface Send {
  readonly sentAt: number;
  readonly to: number;
  answer?: { type: string; code?: string; at: number };
  answers: number;
  arrivals: number;
  arrivedAt?: number;
}

const secret = randomBytes(32).toString("hex");
const workDir = join(REPO_ROOT, "bench/results/work", `overload-${Date.now()}`);
mkdirSync(workDir, { recursive: true });
const server = await target.start({
  secret,
  apiKey: randomBytes(24).toString("hex"),
  workDir,
  projectVars,
  inspect: false,
  log,
});
try {
  const mint = new TokenMint(secret);
  const pairs = Math.max(2, Math.ceil(rate / perSocket / 2));
  const tag = randomBytes(3).toString("hex");
  const users = Array.from({ length: pairs * 2 }, (_, i) => benchUser(`ovl-${tag}-${i}`));
  const sends = new Map<string, Send>();
  const sockets: WebSocket[] = new Array(users.length);
  const wsBase = server.httpBase.replace(/^http/, "ws");
  log(`${server.httpBase}: opening ${users.length} sockets (${pairs} pairs)`);
  await inPool(users, 50, async (user, index) => {
    const token = await mint.tokenFor(user);
    const ws = new WebSocket(`${wsBase}/ws/user/?token=${token}`);
    await new Promise<void>((resolve, reject) => {
      ws.once("error", reject);
      ws.on("message", (raw) => {
        const frame = JSON.parse(raw.toString());
        if (frame.type === "connection_established") resolve();
        else if (frame.type === "user_message") {
          const send = sends.get(frame.data.message);
          if (send) {
            send.arrivals++;
            send.arrivedAt ??= performance.now();
          }
        } else if (typeof frame.id === "string") {
          const send = sends.get(frame.id);
          if (send) {
            send.answers++;
            send.answer ??= { type: frame.type, code: frame.data?.code, at: performance.now() };
          }
        }
      });
    });
    sockets[index] = ws;
  });

  log(`offering ${rate} msg/s for ${seconds} s`);
  let sent = 0;
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000)) - sent;
      for (let k = 0; k < due; k++) {
        const from = sent % users.length;
        const to = from ^ 1;
        const id = `m-${tag}-${sent}`;
        sent++;
        sends.set(id, { sentAt: performance.now(), to, answers: 0, arrivals: 0 });
        sockets[from]?.send(
          JSON.stringify({
            type: "send_message",
            id,
            data: { target_user_id: users[to]?.userId, message: id },
          }),
        );
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 2);
  });
  const lastSend = performance.now();
  log(`sent ${sent} in ${((lastSend - t0) / 1000).toFixed(1)} s; draining ${drainSeconds} s`);
  await new Promise((resolve) => setTimeout(resolve, drainSeconds * 1000));

  const all = [...sends.values()];
  const acked = all.filter((s) => s.answer?.type === "message_sent");
  const unavailable = all.filter((s) => s.answer?.code === "unavailable");
  const otherErrors = all.filter(
    (s) => s.answer?.type === "error" && s.answer.code !== "unavailable",
  );
  const unanswered = all.filter((s) => s.answers === 0);
  const latency = roundPercentiles(
    percentiles(
      all.filter((s) => s.arrivedAt !== undefined).map((s) => (s.arrivedAt as number) - s.sentAt),
    ),
  );
  const answerLatency = roundPercentiles(
    percentiles(all.filter((s) => s.answer).map((s) => (s.answer?.at as number) - s.sentAt)),
  );
  const codes = new Map<string, number>();
  for (const s of otherErrors)
    codes.set(s.answer?.code ?? "?", (codes.get(s.answer?.code ?? "?") ?? 0) + 1);
  const result = {
    server: target.id,
    projectVars,
    offeredPerSecond: rate,
    seconds,
    sent,
    delivered: all.filter((s) => s.arrivals > 0).length,
    deliveredPerSecond: Math.round(
      all.filter((s) => s.arrivedAt !== undefined && s.arrivedAt <= lastSend).length /
        ((lastSend - t0) / 1000),
    ),
    latencyMs: latency,
    answerLatencyMs: answerLatency,
    answeredMessageSent: acked.length,
    answeredUnavailable: unavailable.length,
    answeredOtherError: Object.fromEntries(codes),
    noAnswerAfterDrain: unanswered.length,
    answeredMoreThanOnce: all.filter((s) => s.answers > 1).length,
    acknowledgedNotArrived: acked.filter((s) => s.arrivals === 0).length,
    notAnsweredNotArrived: unanswered.filter((s) => s.arrivals === 0).length,
    arrivedMoreThanOnce: all.filter((s) => s.arrivals > 1).length,
    refusedButArrived: unavailable.filter((s) => s.arrivals > 0).length,
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  const health = performance.now();
  const response = await fetch(`${server.httpBase}/health`);
  log(`/health ${response.status} in ${Math.round(performance.now() - health)} ms`);
  await inPool(sockets, 100, async (ws) => {
    ws.terminate();
  });
} finally {
  await server.stop();
}
