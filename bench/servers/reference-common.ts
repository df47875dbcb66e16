// What the two Node reference servers share: token verification with the same claims and
// rules as the gateway (HS256, `exp` required, 30 s tolerance), group permission from the
// `groups` claim, the small HTTP API for server-side sends, and the start-up handshake with
// the bench (a `READY <port>` line on stdout).

import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { jwtVerify } from "jose";

export interface Principal {
  readonly userId: string;
  readonly username: string;
  readonly groups: readonly string[];
  readonly staff: boolean;
}

export interface ReferenceEnv {
  readonly port: number;
  readonly secret: Uint8Array;
  readonly apiKey: string;
}

export function readEnv(): ReferenceEnv {
  const secret = process.env.JWT_SECRET;
  const apiKey = process.env.API_KEY;
  if (!secret) throw new Error("JWT_SECRET is required");
  if (!apiKey) throw new Error("API_KEY is required");
  return { port: Number(process.env.PORT ?? 0), secret: new TextEncoder().encode(secret), apiKey };
}

export async function verifyToken(token: string, secret: Uint8Array): Promise<Principal> {
  const { payload } = await jwtVerify(token, secret, {
    algorithms: ["HS256"],
    clockTolerance: 30,
    requiredClaims: ["exp"],
  });
  const userId = String(payload.user_id ?? payload.sub ?? "");
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(userId)) throw new Error("bad user id");
  const groups = Array.isArray(payload.groups)
    ? payload.groups.filter((g) => typeof g === "string")
    : [];
  return {
    userId,
    username: typeof payload.username === "string" ? payload.username : userId,
    groups,
    staff: payload.is_staff === true || payload.is_superuser === true,
  };
}

/** Token from `?token=` or `Authorization: Bearer`. */
export function tokenOf(request: IncomingMessage): string | null {
  const url = new URL(request.url ?? "/", "http://localhost");
  const query = url.searchParams.get("token");
  if (query) return query;
  const auth = request.headers.authorization;
  return auth?.startsWith("Bearer ") ? auth.slice(7) : null;
}

const GROUP_NAME = /^(consultation_|group_|team_)[A-Za-z0-9_.:-]{0,120}$/;

/** The gateway's rule for joining by claim: exact name or a glob with `*`. */
export function mayJoin(principal: Principal, group: string): boolean {
  if (!GROUP_NAME.test(group)) return false;
  if (principal.staff) return true;
  return principal.groups.some((pattern) => {
    if (!pattern.includes("*")) return pattern === group;
    const regex = new RegExp(
      `^${pattern
        .split("*")
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
        .join(".*")}$`,
    );
    return regex.test(group);
  });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** Server-side sends the bench needs from every server (docs/protocol.md, "HTTP API"). */
export interface ServerSideSends {
  sendToGroup(group: string, messageType: string, data: unknown): number;
  broadcast(message: string, messageType: string): number;
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
  });
  response.end(text);
}

function apiKeyMatches(header: string | undefined, apiKey: string): boolean {
  if (!header?.startsWith("Bearer ")) return false;
  const given = Buffer.from(header.slice(7));
  const expected = Buffer.from(apiKey);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function httpApi(env: ReferenceEnv, sends: ServerSideSends) {
  return (request: IncomingMessage, response: ServerResponse): void => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (request.method === "GET" && url.pathname === "/health") {
      sendJson(response, 200, { status: "ok" });
      return;
    }
    const groupMatch = /^\/api\/v1\/groups\/([^/]+)\/messages$/.exec(url.pathname);
    const isBroadcast = url.pathname === "/api/v1/broadcasts";
    if (request.method !== "POST" || (!groupMatch && !isBroadcast)) {
      sendJson(response, 404, { error: { code: "not_found", message: "no such endpoint" } });
      return;
    }
    if (!apiKeyMatches(request.headers.authorization, env.apiKey)) {
      sendJson(response, 401, { error: { code: "unauthorized", message: "bad API key" } });
      return;
    }
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        sendJson(response, 400, { error: { code: "invalid_json", message: "bad JSON" } });
        return;
      }
      const b = isRecord(body) ? body : {};
      const messageId = crypto.randomUUID();
      if (groupMatch) {
        const group = decodeURIComponent(groupMatch[1] ?? "");
        const type = typeof b.message_type === "string" ? b.message_type : "group_message";
        sendJson(response, 200, {
          message_id: messageId,
          recipients: sends.sendToGroup(group, type, b.data ?? null),
        });
      } else {
        const message = typeof b.message === "string" ? b.message : "";
        const type = typeof b.message_type === "string" ? b.message_type : "system_broadcast";
        sendJson(response, 200, {
          message_id: messageId,
          recipients: sends.broadcast(message, type),
        });
      }
    });
  };
}

/** Tells the bench which port was bound; the bench waits for this line. */
export function announceReady(port: number): void {
  process.stdout.write(`READY ${port}\n`);
}

/** Stops cleanly on SIGTERM/SIGINT from the bench. */
export function exitOnSignal(close: () => Promise<void> | void): void {
  const stop = () => {
    Promise.resolve(close()).finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2_000).unref();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
