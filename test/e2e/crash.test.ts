/**
 * Crash under the production-like runtime: the gateway on `workerd serve` with Durable Object
 * storage on disk and both mirrors on (its own workerd, database and Redis prefix, not the
 * global setup's wrangler dev). Direct messages flow, then workerd gets SIGKILL mid-traffic and
 * is started again on the same storage. What a user must observe: nothing acknowledged is lost
 * (delivered before the crash or replayed by `resume`, in seq order, once), users whose sockets
 * died read offline at once, and Redis and Postgres say the same within the documented bound.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkerdServer } from "../../dev/workerd-server.ts";
import { eventually, type Frame, sleep } from "../helpers/frames.ts";
import { type Client, connectAs, uniqueUser } from "./helpers.ts";
import { actorStatus, differences, type MirrorProbe, openMirrorProbe } from "./mirror-probe.ts";
import { type OwnServer, REDIS_URL, startOwnServer } from "./own-server.ts";

/**
 * How long Redis and Postgres may take to say "offline" for users whose sockets died in the
 * crash, counted from the restart (docs/security.md, "Fuzz, crash and soak"): the actors'
 * alarms survive on disk and fire at once after a restart; a stale-online user is flipped offline
 * after PRESENCE_GRACE_MS (300 here) and written with the 50 ms coalescing and retry backoff
 * (250 ms doubling to 4 s). 15 s leaves room for a loaded CI machine.
 */
const MIRROR_BOUND_MS = 15_000;
/** Pause between one sender's messages: ~15/s each, under the 20 frames/s per connection. */
const SEND_INTERVAL_MS = 65;

let server: OwnServer;
let stack: WorkerdServer;
let probe: MirrorProbe;
const sockets: Client[] = [];

beforeAll(async () => {
  // `npm start`'s own runtime, on a free port, its own data directory, database and prefix.
  server = await startOwnServer("crash");
  stack = server.stack;
  probe = await openMirrorProbe({
    databaseUrl: server.databaseUrl,
    redisUrl: REDIS_URL,
    redisKeyPrefix: server.redisKeyPrefix,
  });
}, 120_000);

afterAll(async () => {
  for (const client of sockets) client.ws.terminate();
  if (probe) {
    const keys = await probe.redis.keys(`${server.redisKeyPrefix}*`);
    if (keys.length > 0) await probe.redis.del(...keys);
    await probe.close();
  }
  await server?.stop({ keepDir: process.env.KEEP_CRASH_DIR !== undefined });
});

async function connect(userId: string): Promise<Client> {
  const client = await connectAs(userId, {}, { gateway: stack.url });
  sockets.push(client);
  return client;
}

/** Sends direct messages one after another until the socket dies; records every acknowledged id. */
async function sendUntilDead(sender: Client, target: string, acked: string[]): Promise<void> {
  for (let n = 0; ; n++) {
    try {
      const reply = await sender.request(
        "send_message",
        { target_user_id: target, message: `m${n}` },
        3_000,
      );
      if (reply.type === "message_sent") acked.push(String(reply.data.message_id));
      // "Later" answers are fine: the message was not acknowledged, so nothing is owed.
      else if (!["rate_limited", "unavailable"].includes(reply.data?.code))
        throw new Error(`unexpected reply ${JSON.stringify(reply)}`);
    } catch (err) {
      if (sender.frames.closed !== null) return;
      throw err;
    }
    await sleep(SEND_INTERVAL_MS);
  }
}

async function untilConverged(
  users: ReadonlyMap<string, readonly string[]>,
  timeoutMs: number,
): Promise<{ ms: number; left: string[] }> {
  const started = performance.now();
  let left: string[] = [];
  while (performance.now() - started < timeoutMs) {
    left = [];
    for (const [user, ids] of users) left.push(...(await differences(stack.url, probe, user, ids)));
    if (left.length === 0) return { ms: Math.round(performance.now() - started), left };
    await sleep(100);
  }
  return { ms: Math.round(performance.now() - started), left };
}

describe("kill -9 of workerd serve mid-traffic, restarted on the same storage", () => {
  it("loses no acknowledged message, and every dead socket reads offline in the actors and the mirrors", async () => {
    const receiver = uniqueUser("crash-rcv");
    const senders = [uniqueUser("crash-s1"), uniqueUser("crash-s2"), uniqueUser("crash-s3")];
    const twoTabs = uniqueUser("crash-tabs");
    const inbox = await connect(receiver);
    const senderSockets = await Promise.all(senders.map(connect));
    await connect(twoTabs);
    await connect(twoTabs);
    const everyone = [receiver, ...senders, twoTabs];

    // Before the crash the mirrors hold everyone online (so "offline" after it is a change).
    const online = new Map(everyone.map((u) => [u, [] as string[]]));
    for (const client of sockets) {
      online
        .get(String(client.established.data.user_id))
        ?.push(client.established.data.connection_id);
    }
    const before = await untilConverged(online, MIRROR_BOUND_MS);
    expect(before.left).toEqual([]);

    const acked: string[] = [];
    const traffic = senderSockets.map((s) => sendUntilDead(s, receiver, acked));
    // Halfway the receiver goes away (a phone losing signal): from then on its messages are
    // only in its mailbox, so only `resume` after the restart can bring them.
    await eventually(() => acked.length >= 30, 20_000, 20);
    await inbox.close();
    await eventually(() => acked.length >= 60, 20_000, 20);
    await stack.kill9();
    const ackedBeforeKill = acked.length;
    await Promise.all(traffic);
    expect(ackedBeforeKill).toBe(acked.length);

    const seen = inbox.frames.received.filter((f) => f.type === "user_message");
    const lastSeq = seen.at(-1)?.seq ?? 0;
    const restartStarted = performance.now();
    await stack.restart();
    const restarted = performance.now();
    const restartMs = Math.round(restarted - restartStarted);

    // The actors: every user whose sockets died reads offline at once.
    const afterRestart = await Promise.all(everyone.map((u) => actorStatus(stack.url, u)));
    for (const status of afterRestart) {
      expect(status, status.user_id).toMatchObject({ is_online: false, connection_count: 0 });
    }

    // The receiver resumes from the last seq it saw: the rest comes, in order, once.
    expect(seen.length).toBeLessThan(ackedBeforeKill);
    const again = await connect(receiver);
    const resumedFrom = again.frames.received.length;
    const done = await again.request("resume", { since_seq: lastSeq }, 10_000);
    expect(done.type).toBe("resumed");
    const replayed = again.frames.received
      .slice(resumedFrom)
      .filter((f: Frame) => f.type === "user_message");
    const all = [...seen, ...replayed];
    const seqs = all.map((f) => f.seq ?? 0);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => (seqs[0] ?? 1) + i));
    expect(done.data).toMatchObject({ from_seq: lastSeq, to_seq: seqs.at(-1), complete: true });
    const ids = all.map((f) => String(f.data.message_id));
    expect(new Set(ids).size).toBe(ids.length);
    const missing = acked.filter((id) => !ids.includes(id));
    expect(missing).toEqual([]);

    // The mirrors: the dead sockets' users offline, the receiver's new socket alone online.
    const truth = new Map<string, string[]>([
      ...everyone.filter((u) => u !== receiver).map((u) => [u, []] as [string, string[]]),
      [receiver, [String(again.established.data.connection_id)]],
    ]);
    const after = await untilConverged(truth, MIRROR_BOUND_MS);
    expect(after.left).toEqual([]);
    const convergedMs = Math.round(performance.now() - restarted);
    console.log(
      `crash: ${ackedBeforeKill} DMs acknowledged before kill -9 (${seen.length} seen live, ` +
        `${replayed.length} resumed after restart, ${all.length - new Set(ids).size} duplicates); ` +
        `restart ${restartMs} ms; mirrors agreed with the actors ${convergedMs} ms after the restart (first poll that found them so)`,
    );
  }, 60_000);
});
