import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signWebhook, verifyWebhookSignature } from "../../../src/sdk/webhook-signature.ts";

const SECRET = "whsec-0123456789abcdef0123456789abcdef";
const BODY =
  '{"events":[{"id":"e1","type":"user.online","user_id":"42","version":7,"occurred_at":"2026-12-05T10:00:00.000Z"}]}';
const T = 1_796_464_800;

/** The value computed independently with Node's crypto (not Web Crypto). */
function nodeSignature(secret: string, body: string, t: number): string {
  return `t=${t},v1=${createHmac("sha256", secret).update(`${t}.${body}`).digest("hex")}`;
}

describe("Realtime-Signature", () => {
  it("is t=<unix>,v1=<hex HMAC-SHA256(secret, 't.body')>, as Node's crypto computes it", async () => {
    const header = await signWebhook(SECRET, BODY, T);
    expect(header).toBe(nodeSignature(SECRET, BODY, T));
    expect(header).toMatch(/^t=1796464800,v1=[0-9a-f]{64}$/);
  });

  it("verifies a fresh signature and one from 5 minutes ago, not 5 minutes and 1 second", async () => {
    const header = nodeSignature(SECRET, BODY, T);
    expect(await verifyWebhookSignature(SECRET, BODY, header, { now: T })).toBe(true);
    expect(await verifyWebhookSignature(SECRET, BODY, header, { now: T + 300 })).toBe(true);
    expect(await verifyWebhookSignature(SECRET, BODY, header, { now: T + 301 })).toBe(false);
  });

  it("refuses another body, another secret, and malformed headers", async () => {
    const header = nodeSignature(SECRET, BODY, T);
    const verify = (secret: string, body: string, h: string | null) =>
      verifyWebhookSignature(secret, body, h, { now: T });
    expect(await verify(SECRET, `${BODY} `, header)).toBe(false);
    expect(await verify(`${SECRET}x`, BODY, header)).toBe(false);
    expect(await verify(SECRET, BODY, null)).toBe(false);
    expect(await verify(SECRET, BODY, `t=${T}`)).toBe(false);
    expect(await verify(SECRET, BODY, header.replace("t=", "t=x"))).toBe(false);
    expect(await verify(SECRET, BODY, header.slice(0, -1))).toBe(false);
  });

  it("accepts any matching v1 among several (a secret being rotated)", async () => {
    const good = nodeSignature(SECRET, BODY, T).split(",")[1];
    const header = `t=${T},v1=${"0".repeat(64)},${good}`;
    expect(await verifyWebhookSignature(SECRET, BODY, header, { now: T })).toBe(true);
  });
});
