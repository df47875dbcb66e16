/**
 * The webhook sender against a real Node HTTP server: what the receiver gets on the wire, and
 * which answers count as delivered.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/core/config.ts";
import { createWebhookSender, WebhookDeliveryError } from "../../../src/mirrors/webhook.ts";
import { verifyWebhookSignature } from "../../../src/sdk/webhook-signature.ts";
import { TEST_JWT_SECRET } from "../../helpers/secrets.ts";

const SECRET = "whsec-0123456789abcdef0123456789abcdef";
const EVENT = {
  id: "evt-1",
  type: "user.online" as const,
  user_id: "42",
  version: 7,
  occurred_at: "2026-12-05T10:00:00.000Z",
};

let server: Server | null = null;

afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = null;
});

/** A receiver answering `status`; resolves with its URL and the requests it got. */
async function receiver(status: number) {
  const got: { headers: IncomingMessage["headers"]; body: string; method: string }[] = [];
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      got.push({ headers: req.headers, body, method: req.method ?? "" });
      res.writeHead(status).end("receiver text");
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks`, got };
}

function senderTo(url: string) {
  const config = parseConfig({
    JWT_SECRET: TEST_JWT_SECRET,
    WEBHOOK_URL: url,
    WEBHOOK_SECRET: SECRET,
  });
  if (config.webhook === null) throw new Error("webhook config expected");
  return createWebhookSender(config.webhook);
}

describe("the webhook sender", () => {
  it("POSTs {events} as JSON with a signature that verifies over the raw body", async () => {
    const { url, got } = await receiver(204);
    await senderTo(url)([EVENT]);
    expect(got).toHaveLength(1);
    const [request] = got;
    expect(request?.method).toBe("POST");
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(request?.body ?? "")).toEqual({ events: [EVENT] });
    const header = request?.headers["realtime-signature"];
    expect(typeof header).toBe("string");
    expect(await verifyWebhookSignature(SECRET, request?.body ?? "", String(header))).toBe(true);
  });

  it("fails on a non-2xx answer, with the status", async () => {
    const { url } = await receiver(503);
    const error = await senderTo(url)([EVENT]).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(WebhookDeliveryError);
    expect((error as WebhookDeliveryError).status).toBe(503);
  });

  it("fails when nobody listens, without a status", async () => {
    const { url } = await receiver(200);
    await new Promise((resolve) => server?.close(resolve));
    server = null;
    const error = await senderTo(url)([EVENT]).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(WebhookDeliveryError);
    expect((error as WebhookDeliveryError).status).toBeNull();
  });
});
