/**
 * The console's HTTP calls to its own gateway, with the operator's credential (the API key or
 * a staff JWT) as `Authorization: Bearer`. The credential lives in sessionStorage only: it is
 * never put in a URL, and it is gone when the tab closes.
 */

import type { UserDetails } from "../../app/context.ts";

const STORAGE_KEY = "realtime-admin:credential";

/** A refused call: the gateway's error code and message, and the HTTP status. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export interface OnlineUsers {
  users: { user_id: string; connection_count: number }[];
  count: number;
}

export type { UserDetails } from "../../app/context.ts";

export type MirrorState = "ok" | "off" | "behind";

export interface Health {
  status: "ok" | "degraded";
  redis: MirrorState;
  postgres: MirrorState;
  webhook?: MirrorState;
  behind?: Record<string, { users: number; oldest_change_age_ms: number }>;
  dead_letters?: number;
  webhook_dropped?: number;
}

/** Three base64url segments: a JWT (a staff token) rather than the API key. */
export function isToken(credential: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(credential);
}

export const savedCredential = {
  get: (): string | null => sessionStorage.getItem(STORAGE_KEY),
  set: (credential: string): void => sessionStorage.setItem(STORAGE_KEY, credential),
  clear: (): void => sessionStorage.removeItem(STORAGE_KEY),
};

export class GatewayApi {
  private readonly credential: string;

  constructor(credential: string) {
    this.credential = credential;
  }

  /** Signed in with a staff token (which also opens the console's socket), not the API key. */
  get staff(): boolean {
    return isToken(this.credential);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.credential}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
    const json: unknown = await response.json().catch(() => null);
    if (!response.ok) {
      const error = (json as { error?: { code?: string; message?: string } } | null)?.error;
      throw new ApiError(
        response.status,
        error?.code ?? `http_${response.status}`,
        error?.message ?? `${method} ${path} answered ${response.status}`,
      );
    }
    return json as T;
  }

  onlineUsers(): Promise<OnlineUsers> {
    return this.call("GET", "/api/v1/users/online");
  }

  user(userId: string): Promise<UserDetails> {
    return this.call("GET", `/api/v1/users/${encodeURIComponent(userId)}`);
  }

  health(): Promise<Health> {
    return this.call("GET", "/health");
  }

  /** The Prometheus text, or null when this gateway has no /metrics (404). */
  async metrics(): Promise<string | null> {
    const response = await fetch("/metrics", {
      headers: { authorization: `Bearer ${this.credential}` },
      cache: "no-store",
      credentials: "omit",
    });
    if (response.status === 404) return null;
    if (!response.ok) throw new ApiError(response.status, `http_${response.status}`, "metrics");
    return response.text();
  }

  notify(userId: string, title: string, message: string) {
    return this.call<{ notification_id: string; delivered: boolean; connection_count: number }>(
      "POST",
      `/api/v1/users/${encodeURIComponent(userId)}/notifications`,
      { title, message },
    );
  }

  /** From `system` with the API key; from the staff user with a token (the API's rule). */
  directMessage(userId: string, message: string) {
    const body = this.staff ? { message } : { from_user_id: "system", message };
    return this.call<{ message_id: string; delivered: boolean }>(
      "POST",
      `/api/v1/users/${encodeURIComponent(userId)}/messages`,
      body,
    );
  }

  broadcast(message: string) {
    return this.call<{ message_id: string; recipients: number }>("POST", "/api/v1/broadcasts", {
      message,
    });
  }

  groupMessage(groupName: string, messageType: string, data: unknown) {
    return this.call<{ message_id: string; recipients: number }>(
      "POST",
      `/api/v1/groups/${encodeURIComponent(groupName)}/messages`,
      { message_type: messageType, data },
    );
  }

  disconnect(userId: string, reason?: string, blockUntil?: string) {
    const body = {
      ...(reason ? { reason } : {}),
      ...(blockUntil ? { block_until: blockUntil } : {}),
    };
    return this.call<{ closed: number }>(
      "DELETE",
      `/api/v1/users/${encodeURIComponent(userId)}/connections`,
      body,
    );
  }
}
