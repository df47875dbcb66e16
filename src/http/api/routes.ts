/**
 * The HTTP API as one table: each route's method, path, schemas, documented errors and handler.
 * The router (api.ts) registers these and the OpenAPI document (openapi.ts) describes these, so
 * a route cannot exist without being documented.
 */
import * as v from "valibot";
import { broadcast } from "../../app/broadcast.ts";
import type { AppContext } from "../../app/context.ts";
import { notify } from "../../app/notify.ts";
import { onlineUsers } from "../../app/online-users.ts";
import { sendDirectMessage } from "../../app/send-direct-message.ts";
import { sendToRoom } from "../../app/send-to-room.ts";
import { terminateConnections } from "../../app/terminate-connections.ts";
import { userDetails } from "../../app/user-details.ts";
import { userStatus } from "../../app/user-status.ts";
import type { Config } from "../../core/config.ts";
import type { ErrorCode } from "../../protocol/errors.ts";
import { type ApiCaller, originOf, senderOf } from "./auth.ts";
import { parseBody, parseInput, terminationOf } from "./body.ts";
import {
  BroadcastBodySchema,
  DirectMessageBodySchema,
  DirectMessageResultSchema,
  FanoutResultSchema,
  GroupMessageBodySchema,
  GroupNameParamSchema,
  NotificationBodySchema,
  NotificationResultSchema,
  OnlineUsersResultSchema,
  TerminateConnectionsBodySchema,
  TerminateConnectionsResultSchema,
  UserDetailsResultSchema,
  UserIdParamSchema,
  UserStatusResultSchema,
} from "./schemas.ts";

/** The body schema of routes that take none (GET). */
export const NO_BODY = v.undefined();

/** What the router hands a route: raw path parameters and body, and who is calling. */
export interface RouteRequest {
  params: Record<string, string>;
  body: unknown;
  caller: ApiCaller;
  app: AppContext;
  config: Config;
}

export interface ApiRoute {
  method: "get" | "post" | "delete";
  /** OpenAPI path template below /api/v1, e.g. `/users/{id}/status`. */
  path: string;
  operationId: string;
  summary: string;
  description: string;
  params: Record<string, v.GenericSchema<string, string>>;
  body: v.GenericSchema;
  /** The body may be left out (read as `{}`). */
  bodyOptional?: boolean;
  result: v.GenericSchema;
  /** Errors this route answers with besides those every route may (see openapi.ts). */
  errors: readonly ErrorCode[];
  /** Validate the request and run the operation; resolves with the JSON result. */
  run(request: RouteRequest): Promise<unknown>;
}

type Params<P extends Record<string, v.GenericSchema<string, string>>> = {
  [K in keyof P]: v.InferOutput<P[K]>;
};

interface RouteDefinition<
  P extends Record<string, v.GenericSchema<string, string>>,
  B extends v.GenericSchema,
  R extends v.GenericSchema,
> extends Omit<ApiRoute, "params" | "body" | "result" | "run"> {
  params: P;
  body: B;
  result: R;
  handle(input: {
    params: Params<P>;
    body: v.InferOutput<B>;
    caller: ApiCaller;
    app: AppContext;
    config: Config;
  }): Promise<v.InferOutput<R>>;
}

function defineRoute<
  P extends Record<string, v.GenericSchema<string, string>>,
  B extends v.GenericSchema,
  R extends v.GenericSchema,
>(definition: RouteDefinition<P, B, R>): ApiRoute {
  const { handle, ...route } = definition;
  const paramsSchema = v.object(definition.params);
  return {
    ...route,
    run: async ({ params, body, caller, app, config }) =>
      handle({
        // Each path parameter is reported by its own name (`details.field: "id"`).
        params: parseInput(paramsSchema, params, "path"),
        // A GET has no body (NO_BODY parses the undefined the router passes); a POST needs an object.
        body: Object.is(definition.body, NO_BODY)
          ? parseInput(definition.body, body, "body")
          : parseBody(definition.body, body),
        caller,
        app,
        config,
      }),
  };
}

const USER_ERRORS = ["user_not_found"] as const;
const BODY_ERRORS = ["invalid_json", "validation_failed", "message_too_large"] as const;

export const API_ROUTES: readonly ApiRoute[] = [
  defineRoute({
    method: "post",
    path: "/users/{id}/notifications",
    operationId: "sendNotificationToUser",
    summary: "Send a notification to a user",
    description:
      "Stores the notification in the user's mailbox (it waits there while the user is offline) " +
      "and pushes it to every socket of the user as a `notification` frame.",
    params: { id: UserIdParamSchema },
    body: NotificationBodySchema,
    result: NotificationResultSchema,
    errors: [...BODY_ERRORS, ...USER_ERRORS],
    handle: async ({ params, body, app }) => {
      const sent = await notify(app, params.id, body);
      return {
        notification_id: sent.notificationId,
        delivered: sent.delivered,
        connection_count: sent.connectionCount,
      };
    },
  }),
  defineRoute({
    method: "post",
    path: "/users/{id}/messages",
    operationId: "sendMessageToUser",
    summary: "Send a direct message to a user",
    description:
      "Delivers a `user_message` from `from_user_id` to every socket of the user, and keeps it " +
      "in the user's mailbox for resume. `from_user_id` is required with the API key; with a " +
      "staff token it defaults to, and must equal, the caller.",
    params: { id: UserIdParamSchema },
    body: DirectMessageBodySchema,
    result: DirectMessageResultSchema,
    errors: [...BODY_ERRORS, ...USER_ERRORS],
    handle: async ({ params, body, caller, app }) => {
      const sent = await sendDirectMessage(app, params.id, {
        from: senderOf(caller, body.from_user_id),
        message: body.message,
        messageType: body.message_type,
      });
      return { message_id: sent.messageId, delivered: sent.recipients > 0 };
    },
  }),
  defineRoute({
    method: "post",
    path: "/broadcasts",
    operationId: "broadcastSystemMessage",
    summary: "Broadcast a system message to every online user",
    description:
      "Sends a `system_broadcast` to every user online now; `recipients` counts the users reached.",
    params: {},
    body: BroadcastBodySchema,
    result: FanoutResultSchema,
    errors: BODY_ERRORS,
    handle: async ({ body, caller, app, config }) => {
      const sent = await broadcast(app, config.presenceShards, {
        fromUserId: originOf(caller),
        message: body.message,
        messageType: body.message_type,
      });
      return { message_id: sent.messageId, recipients: sent.recipients };
    },
  }),
  defineRoute({
    method: "post",
    path: "/groups/{name}/messages",
    operationId: "sendToGroup",
    summary: "Send a message to the members of a group",
    description:
      "Publishes a `group_message` carrying `data` to the sockets that joined the group; " +
      "`recipients` counts the users reached.",
    params: { name: GroupNameParamSchema },
    body: GroupMessageBodySchema,
    result: FanoutResultSchema,
    errors: [...BODY_ERRORS, "invalid_group"],
    handle: async ({ params, body, caller, app, config }) => {
      const sent = await sendToRoom(app, config, params.name, {
        fromUserId: originOf(caller),
        messageType: body.message_type,
        data: body.data,
      });
      return { message_id: sent.messageId, recipients: sent.recipients };
    },
  }),
  defineRoute({
    method: "delete",
    path: "/users/{id}/connections",
    operationId: "terminateUserConnections",
    summary: "Close every socket of a user",
    description:
      "Closes every socket of the user (user sockets, and the room and consultation sockets held for them) " +
      "with close code 4003 and reason `terminated`, each after an `error` frame carrying " +
      "`reason`. With `block_until`, the user's upgrades answer 403 `forbidden` until then " +
      "(kept in the user's actor). The body is optional.",
    params: { id: UserIdParamSchema },
    body: TerminateConnectionsBodySchema,
    bodyOptional: true,
    result: TerminateConnectionsResultSchema,
    errors: BODY_ERRORS,
    handle: async ({ params, body, app }) =>
      terminateConnections(app, params.id, terminationOf(body)),
  }),
  defineRoute({
    method: "get",
    path: "/users/{id}/status",
    operationId: "getUserStatus",
    summary: "A user's online status",
    description: "`is_online` follows the presence rules (a short grace after the last socket).",
    params: { id: UserIdParamSchema },
    body: NO_BODY,
    result: UserStatusResultSchema,
    errors: ["validation_failed", ...USER_ERRORS],
    handle: async ({ params, app }) => {
      const status = await userStatus(app, params.id);
      return {
        user_id: status.userId,
        is_online: status.isOnline,
        connection_count: status.connectionCount,
        last_seen: status.lastSeen,
      };
    },
  }),
  defineRoute({
    method: "get",
    path: "/users/online",
    operationId: "getAllOnlineUsers",
    summary: "Every online user",
    description: "Merged from all presence shards, ordered by user id.",
    params: {},
    body: NO_BODY,
    result: OnlineUsersResultSchema,
    errors: [],
    handle: async ({ app, config }) => {
      const users = (await onlineUsers(app, config.presenceShards)).map((user) => ({
        user_id: user.userId,
        connection_count: user.connectionCount,
      }));
      return { users, count: users.length };
    },
  }),
  defineRoute({
    method: "get",
    path: "/users/{id}",
    operationId: "getUserDetails",
    summary: "A user's sockets, groups and mailbox, for operators",
    description:
      "Every open socket of the user (connection id, kind, when it opened, its groups), the " +
      "groups of all of them, the presence record and the mailbox's size. The admin console's " +
      "user view (registered after `/users/online`, which it would otherwise shadow).",
    params: { id: UserIdParamSchema },
    body: NO_BODY,
    result: UserDetailsResultSchema,
    errors: ["validation_failed", ...USER_ERRORS],
    handle: ({ params, app }) => userDetails(app, params.id),
  }),
];
