/**
 * The presence webhook sender: POSTs one batch `{ "events": [...] }` to WEBHOOK_URL, signed
 * with WEBHOOK_SECRET in the `Realtime-Signature` header, and succeeds only on a 2xx answer.
 * Holds only settings (no connection), so one sender serves every actor of an isolate.
 */

import type { KeyValueStore } from "../core/cached-store.ts";
import type { WebhookConfig } from "../core/config.ts";
import { type WebhookEvent, WebhookOutbox } from "../core/webhook-outbox.ts";
import { SIGNATURE_HEADER, signWebhook } from "../sdk/webhook-signature.ts";

/** How long one POST may take before it counts as failed, in milliseconds: 10,000. */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** The receiver did not answer 2xx (or not at all); the outbox retries with backoff. */
export class WebhookDeliveryError extends Error {
  override readonly name = "WebhookDeliveryError";
  /** The HTTP status, or null when no answer came (refused, timed out). */
  readonly status: number | null;
  readonly temporary = true;
  constructor(status: number | null, cause?: unknown) {
    super(
      status === null
        ? `webhook receiver unreachable: ${cause instanceof Error ? cause.message : String(cause)}`
        : `webhook receiver answered ${status}`,
      { cause },
    );
    this.status = status;
  }
}

export interface WebhookSenderOptions {
  /** The clock in ms since epoch, for the signature's timestamp. Default Date.now. */
  now?: () => number;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export function createWebhookSender(
  config: WebhookConfig,
  options: WebhookSenderOptions = {},
): (events: WebhookEvent[]) => Promise<void> {
  const now = options.now ?? Date.now;
  const send = options.fetch ?? ((input, init) => fetch(input, init));
  const timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  return async function postBatch(events) {
    const body = JSON.stringify({ events });
    // Signed at send time (not when queued): a retry after an outage is inside the receiver's
    // 5-minute replay window.
    const signature = await signWebhook(config.secret, body, Math.floor(now() / 1000));
    let response: Response;
    try {
      response = await send(config.url, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          [SIGNATURE_HEADER]: signature,
          "User-Agent": "edge-realtime-gateway-webhooks",
        },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new WebhookDeliveryError(null, err);
    }
    // Read the body so the connection can be reused, but never log it: it is the receiver's.
    await response.body?.cancel().catch(() => undefined);
    if (response.status < 200 || response.status > 299) {
      throw new WebhookDeliveryError(response.status);
    }
  };
}

/** What the webhook outbox tells the deployment's MirrorMonitor (for /health). */
export interface WebhookMonitor {
  report(target: string, userId: string, since: number | null): Promise<void>;
  reportWebhookDropped(userId: string, total: number): Promise<void>;
}

/**
 * One actor's webhook outbox in `storage` (a user's, or a room's), or null when webhooks are
 * off; `actor` names it in log lines.
 */
export function createWebhookOutbox(
  config: WebhookConfig | null,
  storage: KeyValueStore,
  monitor: () => WebhookMonitor,
  actor = "UserHub",
): WebhookOutbox | null {
  if (config === null) return null;
  return new WebhookOutbox({
    storage,
    send: createWebhookSender(config),
    types: config.events,
    maxAgeMs: config.maxAgeMs,
    reportLag: (userId, since) => monitor().report("webhook", userId, since),
    reportDropped: (userId, total) => monitor().reportWebhookDropped(userId, total),
    log: (message) => console.warn(`${actor}:webhook: ${message}`),
  });
}
