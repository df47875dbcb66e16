/**
 * Overload: direct messages offered far above what the gateway delivers under `wrangler dev`,
 * from several senders (each with several sockets, at their rate limit) to several receivers,
 * for a few seconds. Every send gets exactly one answer; the gateway refuses what it cannot
 * take at once (`unavailable` with `retry_after_ms`) instead of queueing it; every
 * acknowledged message arrives exactly once, on the socket and in the mailbox; nothing refused
 * arrives; and the gateway still answers /health at once afterwards.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeEnvFile } from "../../dev/worker-env.ts";
import { startWranglerDev, type WranglerDev } from "../../dev/wrangler-dev.ts";
import { freePort } from "../dev/helpers/ports.ts";
import { E2E_VARS } from "../helpers/e2e-config.ts";
import type { Frame } from "../helpers/frames.ts";
import { type Client, connectAs as connectTo, uniqueUser } from "./helpers.ts";

/**
 * A gateway of its own (wrangler dev, mirrors off), so the small bound below, which a few
 * senders reach under `wrangler dev`, does not apply to the other tests (default 64).
 */
// Per-user budgets out of the way (budgets.test.ts covers them): this test is about the
// actors' in-flight bound, so its only refusals must be the overload's.
const VARS = {
  ...E2E_VARS,
  ACTOR_MAX_INFLIGHT: "8",
  USER_BUDGET_PER_SECOND: "100000",
  USER_BUDGET_BURST: "100000",
};
let dir = "";
let wrangler: WranglerDev | undefined;
let gateway = "";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "gateway-overload-"));
  const envFile = join(dir, "vars.env");
  writeEnvFile(envFile, VARS);
  const root = join(import.meta.dirname, "../..");
  wrangler = await startWranglerDev({
    cwd: root,
    configPath: join(root, "wrangler.toml"),
    port: await freePort(),
    persistTo: join(dir, "state"),
    envFile,
  });
  gateway = wrangler.url;
}, 120_000);

afterAll(async () => {
  await wrangler?.stop();
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

const connectAs = (user: string) => connectTo(user, {}, { gateway });
const gatewayUrl = () => gateway;

const SENDERS = 4;
const SOCKETS_PER_SENDER = 6;
const RECEIVERS = 4;
/** Each socket's burst (40), then 18/s for 3 s: under the per-socket rate limit of 20/s. */
const BURST = 40;
const PER_SECOND = 18;
const SECONDS = 3;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Send {
  id: string;
  target: string;
  socket: Client;
}

/** Frames on `socket` answering request `id` (replies echo the id). */
const answersTo = (socket: Client, id: string) =>
  socket.frames.received.filter((frame) => frame.id === id);

async function waitFor(check: () => boolean, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe("overload", () => {
  it("answers every send once, refuses the excess with retry_after_ms, and delivers every acknowledged message exactly once", async () => {
    const receivers = Array.from({ length: RECEIVERS }, () => uniqueUser("ovl-to"));
    const inboxes = await Promise.all(receivers.map((user) => connectAs(user)));
    const senders: Client[][] = [];
    for (let s = 0; s < SENDERS; s++) {
      const user = uniqueUser("ovl-from");
      senders.push(
        await Promise.all(Array.from({ length: SOCKETS_PER_SENDER }, () => connectAs(user))),
      );
    }

    const baselineStarted = Date.now();
    await fetch(`${gatewayUrl()}/health`);
    console.log(`overload: /health before the load in ${Date.now() - baselineStarted} ms`);

    const sends: Send[] = [];
    const offer = (count: number, round: number) => {
      senders.forEach((sockets, s) => {
        sockets.forEach((socket, k) => {
          for (let i = 0; i < count; i++) {
            const id = `ovl-${s}-${k}-${round}-${i}`;
            const target = receivers[(s + k + i) % RECEIVERS] as string;
            sends.push({ id, target, socket });
            socket.send({
              type: "send_message",
              id,
              data: { target_user_id: target, message: id },
            });
          }
        });
      });
    };
    offer(BURST, 0);
    for (let round = 1; round <= SECONDS; round++) {
      await sleep(1_000);
      offer(PER_SECOND, round);
    }
    const total = SENDERS * SOCKETS_PER_SENDER * (BURST + SECONDS * PER_SECOND);
    expect(sends).toHaveLength(total);

    // Every send is answered, and only once.
    await waitFor(
      () => sends.every((send) => answersTo(send.socket, send.id).length > 0),
      60_000,
      "an answer to every send",
    );
    await sleep(500);
    const answers = new Map<string, Frame>();
    for (const send of sends) {
      const frames = answersTo(send.socket, send.id);
      expect(frames, `answers to ${send.id}`).toHaveLength(1);
      answers.set(send.id, frames[0] as Frame);
    }
    const acknowledged = sends.filter((send) => answers.get(send.id)?.type === "message_sent");
    const refused = sends.filter((send) => answers.get(send.id)?.type === "error");
    const codes = new Set(refused.map((send) => answers.get(send.id)?.data.code));
    // The only refusals are the overload's (rate limits were kept to).
    expect([...codes]).toEqual(["unavailable"]);
    expect(refused.length).toBeGreaterThan(0);
    for (const send of refused) {
      expect(answers.get(send.id)?.data.retry_after_ms).toBeGreaterThan(0);
    }
    expect(acknowledged.length).toBeGreaterThan(0);
    console.log(
      `overload: ${total} offered, ${acknowledged.length} acknowledged, ${refused.length} unavailable`,
    );

    // Every acknowledged message reaches its receiver's socket exactly once; nothing refused does.
    const expected = new Map(receivers.map((user) => [user, new Set<string>()]));
    for (const send of acknowledged) expected.get(send.target)?.add(send.id);
    const arrivals = (inbox: Client) =>
      inbox.frames.received.filter((f) => f.type === "user_message").map((f) => f.data.message);
    await waitFor(
      () =>
        inboxes.every(
          (inbox, r) => arrivals(inbox).length >= (expected.get(receivers[r] as string)?.size ?? 0),
        ),
      30_000,
      "every acknowledged message on its receiver's socket",
    );
    await sleep(500);
    // Once the load is served, /health answers within a second: nothing is left queued.
    const healthStarted = Date.now();
    const health = await fetch(`${gatewayUrl()}/health`, { signal: AbortSignal.timeout(10_000) });
    const healthMs = Date.now() - healthStarted;
    console.log(`overload: /health ${health.status} in ${healthMs} ms`);
    expect(health.status).toBe(200);
    expect(healthMs).toBeLessThan(1_000);

    for (const [r, inbox] of inboxes.entries()) {
      const got = arrivals(inbox);
      const wanted = expected.get(receivers[r] as string) ?? new Set();
      expect(new Set(got).size, "no duplicates on the socket").toBe(got.length);
      expect([...got].sort()).toEqual([...wanted].sort());

      // The mailbox holds each of them once too: a resume from the start replays exactly them.
      const again = await connectAs(receivers[r] as string);
      const done = again.frames.next("resumed", 10_000);
      again.send({ type: "resume", data: { since_seq: 0 } });
      expect((await done).data.complete).toBe(true);
      const replayed = again.frames.received
        .filter((f) => f.type === "user_message")
        .map((f) => f.data.message);
      expect([...replayed].sort()).toEqual([...wanted].sort());
      await again.close();
    }

    await Promise.all([...inboxes, ...senders.flat()].map((socket) => socket.close()));
  }, 120_000);
});
