/**
 * The Hono receiver of docs/webhooks.md, copied verbatim (its imports are checked as text: the
 * document imports the package, `edge-realtime-gateway/server`), driven with signed and forged requests;
 * the last test checks that the document still shows exactly these lines.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Hono } from "hono";
import { describe, expect, it, vi } from "vitest";
import { verifyWebhookSignature } from "../../../src/sdk/server.ts";
import { signWebhook } from "../../../src/sdk/webhook-signature.ts";

// --- docs/webhooks.md snippet (after its two imports) ---
const app = new Hono();
const seen = new Set<string>(); // in production: a unique index on the event id

app.post("/hooks/realtime", async (c) => {
  const body = await c.req.text();
  const secret = process.env.WEBHOOK_SECRET ?? "";
  if (!(await verifyWebhookSignature(secret, body, c.req.header("Realtime-Signature")))) {
    return c.json({ error: "invalid signature" }, 400);
  }
  const { events } = JSON.parse(body) as {
    events: { id: string; type: string; user_id?: string; group_name?: string; version: number }[];
  };
  for (const event of events) {
    if (seen.has(event.id)) continue;
    seen.add(event.id);
    // user.online / user.offline carry user_id; room.occupied / room.vacated carry group_name.
    console.log(`${event.user_id ?? event.group_name} ${event.type} (version ${event.version})`);
  }
  return c.body(null, 204);
});
// --- end ---

const SECRET = "whsec-0123456789abcdef0123456789abcdef";
process.env.WEBHOOK_SECRET = SECRET;
const BODY = JSON.stringify({
  events: [
    {
      id: "e1",
      type: "user.online",
      user_id: "42",
      version: 1,
      occurred_at: "2026-12-05T10:00:00Z",
    },
  ],
});

function post(body: string, signature: string) {
  return app.request("/hooks/realtime", {
    method: "POST",
    headers: { "Content-Type": "application/json", "Realtime-Signature": signature },
    body,
  });
}

describe("the Hono webhook receiver of docs/webhooks.md", () => {
  it("accepts a batch signed now and handles each event once", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    const now = Math.floor(Date.now() / 1000);
    expect((await post(BODY, await signWebhook(SECRET, BODY, now))).status).toBe(204);
    expect((await post(BODY, await signWebhook(SECRET, BODY, now))).status).toBe(204);
    expect(log.mock.calls).toEqual([["42 user.online (version 1)"]]);
    log.mockRestore();
  });

  it("names the room of a room event", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    const body = JSON.stringify({
      events: [
        {
          id: "r1",
          type: "room.occupied",
          group_name: "group_lobby",
          version: 1,
          occurred_at: "2026-12-05T10:00:00Z",
        },
      ],
    });
    const now = Math.floor(Date.now() / 1000);
    expect((await post(body, await signWebhook(SECRET, body, now))).status).toBe(204);
    expect(log.mock.calls).toEqual([["group_lobby room.occupied (version 1)"]]);
    log.mockRestore();
  });

  it("refuses a forged body, a wrong secret and a signature older than 5 minutes", async () => {
    const now = Math.floor(Date.now() / 1000);
    const signature = await signWebhook(SECRET, BODY, now);
    expect((await post(BODY.replace("42", "43"), signature)).status).toBe(400);
    expect((await post(BODY, await signWebhook(`${SECRET}x`, BODY, now))).status).toBe(400);
    expect((await post(BODY, await signWebhook(SECRET, BODY, now - 301))).status).toBe(400);
  });

  it("is what docs/webhooks.md shows", () => {
    const source = readFileSync(import.meta.filename, "utf8");
    const snippet = source
      .split("// --- docs/webhooks.md snippet (after its two imports) ---\n")[1]
      ?.split("// --- end ---")[0];
    const imports =
      'import { Hono } from "hono";\nimport { verifyWebhookSignature } from "edge-realtime-gateway/server";\n\n';
    const doc = readFileSync(join(import.meta.dirname, "../../../docs/webhooks.md"), "utf8");
    expect(snippet).toBeTruthy();
    expect(doc).toContain(`${imports}${snippet}`);
  });

  it("shows the Django view of docs/django.md, which is valid Python", () => {
    const pythonBlock = (file: string) =>
      readFileSync(join(import.meta.dirname, "../../../docs", file), "utf8")
        .split("```python\n")
        .find((block) => block.includes("def realtime_webhook"))
        ?.split("```")[0];
    const view = pythonBlock("webhooks.md");
    expect(view).toBeTruthy();
    expect(view).toBe(pythonBlock("django.md"));
    const parsed = spawnSync(
      process.env.PYTHON ?? "python3",
      ["-c", "import ast, sys; ast.parse(sys.stdin.read())"],
      {
        input: view,
        encoding: "utf8",
      },
    );
    expect(parsed.stderr).toBe("");
    expect(parsed.status).toBe(0);
  });
});
