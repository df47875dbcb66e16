/**
 * Presence webhooks end to end: the gateway on `workerd serve` with storage on disk (its own
 * stack, database and Redis prefix, like crash.test.ts) POSTs to a real Node HTTP receiver in
 * this file. What an application observes: each user's events arrive in order (online, then
 * offline, versions increasing), signed so that both our verifier and the Python client's
 * accept them; a receiver answering 503 gets everything once it answers 2xx; and events pending
 * when the gateway is killed arrive after it restarts.
 */
import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkerdServer } from "../../dev/workerd-server.ts";
import { verifyWebhookSignature } from "../../src/sdk/webhook-signature.ts";
import { eventually, sleep } from "../helpers/frames.ts";
import { type Client, connectAs, uniqueUser } from "./helpers.ts";
import { type OwnServer, startOwnServer } from "./own-server.ts";

const PYTHON = process.env.PYTHON ?? "python3";
const WEBHOOK_SECRET = "e2e-webhook-secret-0123456789abcdef";

interface Received {
  body: string;
  signature: string;
  events: {
    id: string;
    type: string;
    user_id?: string;
    group_name?: string;
    version: number;
    occurred_at: string;
  }[];
}

/**
 * A webhook receiver on a fixed port: answers `status` (200 by default), records what it
 * accepted, and can be closed and opened again on the same port (the gateway's URL stays).
 */
class Receiver {
  status = 200;
  readonly accepted: Received[] = [];
  refused = 0;
  port = 0;
  private server: Server | null = null;

  async open(): Promise<void> {
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        if (this.status < 200 || this.status > 299) {
          this.refused += 1;
          res.writeHead(this.status).end();
          return;
        }
        this.accepted.push({
          body,
          signature: String(req.headers["realtime-signature"] ?? ""),
          events: JSON.parse(body).events,
        });
        res.writeHead(this.status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, "127.0.0.1", resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  }

  /** A user's events in arrival order, each id once (delivery is at least once). */
  eventsOf(userId: string) {
    const seen = new Set<string>();
    return this.accepted
      .flatMap((r) => r.events)
      .filter((e) => e.user_id === userId && !seen.has(e.id) && seen.add(e.id));
  }

  /** A room's events in arrival order, each id once. */
  roomEventsOf(groupName: string) {
    const seen = new Set<string>();
    return this.accepted
      .flatMap((r) => r.events)
      .filter((e) => e.group_name === groupName && !seen.has(e.id) && seen.add(e.id));
  }
}

let server: OwnServer;
let stack: WorkerdServer;
const receiver = new Receiver();
const sockets: Client[] = [];

beforeAll(async () => {
  await receiver.open();
  // The webhook secret, like every secret, reaches workerd through its environment, never
  // through the generated config.
  server = await startOwnServer("webhooks", {
    WEBHOOK_URL: `http://127.0.0.1:${receiver.port}/hooks/realtime`,
    WEBHOOK_SECRET,
    WEBHOOK_EVENTS: "user.online,user.offline,room.occupied,room.vacated",
  });
  stack = server.stack;
}, 120_000);

afterAll(async () => {
  for (const client of sockets) client.ws.terminate();
  await server?.stop();
  await receiver.close();
});

async function connect(userId: string): Promise<Client> {
  const client = await connectAs(userId, {}, { gateway: stack.url });
  sockets.push(client);
  return client;
}

/** Online, then offline after the grace period (PRESENCE_GRACE_MS is 300 here). */
async function visit(userId: string): Promise<void> {
  const client = await connect(userId);
  await client.close();
  await sleep(600);
}

async function health(): Promise<Record<string, unknown>> {
  const response = await fetch(`${stack.url}/health`);
  return (await response.json()) as Record<string, unknown>;
}

/** Types and versions of a user's events, with versions checked to increase. */
function sequence(userId: string): string[] {
  const events = receiver.eventsOf(userId);
  for (let i = 1; i < events.length; i++) {
    expect(events[i]?.version).toBeGreaterThan(events[i - 1]?.version ?? Infinity);
  }
  return events.map((e) => e.type);
}

describe("presence webhooks", () => {
  it("deliver each user's flips in order, with unique ids, versions and timestamps", async () => {
    const alice = uniqueUser("wh-alice");
    const bob = uniqueUser("wh-bob");
    await Promise.all([
      (async () => {
        await visit(alice);
        await visit(alice);
      })(),
      visit(bob),
    ]);
    const expected = ["user.online", "user.offline", "user.online", "user.offline"];
    await eventually(
      () => receiver.eventsOf(alice).length >= 4 && receiver.eventsOf(bob).length >= 2,
    );
    expect(sequence(alice)).toEqual(expected);
    expect(sequence(bob)).toEqual(expected.slice(0, 2));
    for (const event of receiver.eventsOf(alice)) {
      expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(Math.abs(Date.now() - Date.parse(event.occurred_at))).toBeLessThan(60_000);
    }
    expect(await health()).toMatchObject({ status: "ok", webhook: "ok" });
  });

  it("tell when a room gets its first online member and when its last one is gone, in order", async () => {
    const group = `group_${uniqueUser("wh-room")}`;
    const [erin, frank] = [uniqueUser("wh-erin"), uniqueUser("wh-frank")];
    const token = { groups: ["group_*"] };
    const first = await connectAs(erin, token, { gateway: stack.url });
    const second = await connectAs(frank, token, { gateway: stack.url });
    sockets.push(first, second);
    expect((await first.request("join_group", { group_name: group })).type).toBe("group_joined");
    expect((await second.request("join_group", { group_name: group })).type).toBe("group_joined");
    await eventually(() => receiver.roomEventsOf(group).length >= 1);
    // The second member neither occupies nor vacates; the last one leaving (by leave_group)
    // vacates, and a member coming back (then disconnecting) occupies and vacates again.
    await first.request("leave_group", { group_name: group });
    await second.close();
    const third = await connectAs(erin, token, { gateway: stack.url });
    sockets.push(third);
    await third.request("join_group", { group_name: group });
    await third.close();
    await eventually(() => receiver.roomEventsOf(group).length >= 4, 15_000);
    await sleep(500);
    const events = receiver.roomEventsOf(group);
    expect(events.map((e) => e.type)).toEqual([
      "room.occupied",
      "room.vacated",
      "room.occupied",
      "room.vacated",
    ]);
    expect(events.map((e) => e.version)).toEqual([1, 2, 3, 4]);
    for (const event of events) {
      expect(Object.keys(event).sort()).toEqual([
        "group_name",
        "id",
        "occurred_at",
        "type",
        "version",
      ]);
      expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
    }
    const carrying = receiver.accepted.filter((r) => r.events.some((e) => e.group_name === group));
    for (const request of carrying) {
      expect(await verifyWebhookSignature(WEBHOOK_SECRET, request.body, request.signature)).toBe(
        true,
      );
    }
  });

  it("sign each POST so that our verifier and the Python client's accept it", async () => {
    expect(receiver.accepted.length).toBeGreaterThan(0);
    for (const request of receiver.accepted) {
      expect(await verifyWebhookSignature(WEBHOOK_SECRET, request.body, request.signature)).toBe(
        true,
      );
    }
    const script = [
      "import json, sys",
      "from realtime_gateway.webhooks import verify_webhook_signature",
      "requests = json.load(sys.stdin)",
      "ok = [verify_webhook_signature(r['body'].encode('utf-8'), r['signature'], sys.argv[1]) for r in requests]",
      "forged = requests[0]['body'].replace('user.', 'user.x', 1).encode('utf-8')",
      "try:",
      "    verify_webhook_signature(forged, requests[0]['signature'], sys.argv[1])",
      "    print('forged accepted')",
      "except Exception as err:",
      "    print(type(err).__name__)",
      "print(sum(ok))",
    ].join("\n");
    const run = spawnSync(PYTHON, ["-c", script, WEBHOOK_SECRET], {
      input: JSON.stringify(receiver.accepted),
      env: { ...process.env, PYTHONPATH: join(import.meta.dirname, "../../clients/python") },
      encoding: "utf8",
    });
    expect(run.stderr).toBe("");
    expect(run.stdout.trim().split("\n")).toEqual([
      "InvalidWebhookSignature",
      String(receiver.accepted.length),
    ]);
  });

  it("retry with backoff while the receiver answers 503, and deliver everything once it answers 2xx", async () => {
    const carol = uniqueUser("wh-carol");
    receiver.status = 503;
    await visit(carol);
    await visit(carol);
    await eventually(() => receiver.refused >= 2, 15_000);
    expect(receiver.eventsOf(carol)).toEqual([]);
    await eventually(async () => (await health()).webhook === "behind", 10_000);
    expect((await health()).status).toBe("ok");
    receiver.status = 200;
    // The backoff doubles from 1 s; a few attempts in, the next one is at most ~10 s away.
    await eventually(() => receiver.eventsOf(carol).length >= 4, 25_000);
    expect(sequence(carol)).toEqual(["user.online", "user.offline", "user.online", "user.offline"]);
    await eventually(async () => (await health()).webhook === "ok", 10_000);
  }, 60_000);

  it("lose no event when the gateway is killed while they are pending, and send them after the restart", async () => {
    const dave = uniqueUser("wh-dave");
    await receiver.close();
    await visit(dave);
    const online = await connect(dave);
    await sleep(500);
    // Pending now: online, offline, online (the receiver is closed). Then workerd dies with
    // dave's socket open: after the restart the actor flips him offline (socketsLost).
    await stack.kill9();
    online.ws.terminate();
    await receiver.open();
    await stack.restart();
    await eventually(() => receiver.eventsOf(dave).length >= 4, 40_000);
    expect(sequence(dave)).toEqual(["user.online", "user.offline", "user.online", "user.offline"]);
  }, 90_000);
});
