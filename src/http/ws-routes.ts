/**
 * Socket endpoints: check the upgrade, the origin and the token in the Worker, then hand the
 * raw request to the actor that will hold the socket. Every refusal happens before any 101.
 */
import type { Context } from "hono";
import { extractToken, verifyToken } from "../core/auth.ts";
import type { Config } from "../core/config.ts";
import { consultationGroup, mayJoin, validateGroupName } from "../core/groups.ts";
import { encodeIdentity, IDENTITY_HEADER } from "../core/identity.ts";
import { GatewayError } from "../protocol/errors.ts";
import type { AppEnv } from "./types.ts";

function checkUpgrade(request: Request): void {
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
    throw new GatewayError("upgrade_required", "this endpoint only accepts WebSocket upgrades");
  }
}

function checkOrigin(request: Request, config: Config): void {
  const origin = request.headers.get("Origin");
  // Non-browser clients send no Origin; browsers always do, and only they need this protection.
  // The gateway's own pages (the demo at `/`) are same-origin and always allowed.
  if (config.allowedOrigins === null || origin === null) return;
  if (origin === new URL(request.url).origin) return;
  if (!config.allowedOrigins.includes(origin)) {
    throw new GatewayError("forbidden", "origin not allowed");
  }
}

/** Authenticate an upgrade and return the request to forward, carrying the verified identity. */
export async function authenticateUpgrade(request: Request, config: Config) {
  checkUpgrade(request);
  checkOrigin(request, config);
  const found = extractToken(request);
  if (found === null) throw new GatewayError("unauthorized", "missing token");
  if (found.source === "query" && !config.allowQueryToken) {
    // Query strings end up in access logs and browser history (ALLOW_QUERY_TOKEN=false).
    throw new GatewayError(
      "unauthorized",
      "?token= is disabled on this gateway; send the token as Sec-WebSocket-Protocol: bearer, <jwt> or Authorization: Bearer <jwt>",
    );
  }
  const principal = await verifyToken(found.token, config);
  const headers = new Headers(request.headers);
  headers.delete(IDENTITY_HEADER);
  headers.set(IDENTITY_HEADER, encodeIdentity(principal, found.source));
  return { principal, headers };
}

export async function userSocket(c: Context<AppEnv>): Promise<Response> {
  const { principal, headers } = await authenticateUpgrade(c.req.raw, c.get("config"));
  return c.env.USER_HUB.getByName(principal.userId).fetch(new Request(c.req.raw, { headers }));
}

/**
 * `/ws/consultation/{id}/`: the room `consultation_{id}` holds the socket. Allowed when the
 * token's `groups` claim covers the room, or for staff; otherwise 403 before the upgrade.
 */
export function consultationSocket(c: Context<AppEnv>): Promise<Response> {
  const room = () => consultationGroup(c.req.param("id") ?? "");
  return roomSocketOf(c, room, "not allowed in this consultation");
}

/**
 * `/ws/group/{group_name}/`: a room socket, held by the room's own actor. Allowed as
 * `join_group` is without a subscription token (the `groups` claim, a public prefix, or staff);
 * otherwise 403 before the upgrade.
 */
export function groupSocket(c: Context<AppEnv>): Promise<Response> {
  const config = c.get("config");
  const room = () => validateGroupName(c.req.param("name") ?? "", config);
  return roomSocketOf(c, room, "not allowed in this group");
}

async function roomSocketOf(
  c: Context<AppEnv>,
  roomName: () => string,
  refusal: string,
): Promise<Response> {
  const config = c.get("config");
  const { principal, headers } = await authenticateUpgrade(c.req.raw, config);
  const room = roomName();
  const rights = {
    isStaff: principal.isStaff,
    isSuperuser: principal.isSuperuser,
    grants: principal.groups,
  };
  if (!mayJoin(rights, room, config)) {
    throw new GatewayError("forbidden", refusal);
  }
  return c.env.ROOM_HUB.getByName(`room:${room}`).fetch(new Request(c.req.raw, { headers }));
}
