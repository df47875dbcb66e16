/**
 * RealtimeService: the HTTP API's operations for other Workers, through a service binding
 *
 *   [[services]]
 *   binding = "REALTIME"
 *   service = "realtime-gateway"
 *   entrypoint = "RealtimeService"
 *
 * and then `await env.REALTIME.sendNotificationToUser(42, { title, message })`. The methods and
 * their results are those of the server SDK (src/sdk/server.ts), so code moves between the two
 * unchanged. A binding is trusted like the API key: the calling Worker speaks for any user.
 *
 * Inputs are checked exactly as HTTP bodies are: sent through JSON (so `data` is what a socket
 * will receive), limited to MAX_FRAME_BYTES, validated with the same schemas.
 */
import { WorkerEntrypoint } from "cloudflare:workers";
import type * as v from "valibot";
import { broadcast as broadcastToAll } from "../app/broadcast.ts";
import type { AppContext } from "../app/context.ts";
import { notify } from "../app/notify.ts";
import { onlineUsers } from "../app/online-users.ts";
import { sendDirectMessage } from "../app/send-direct-message.ts";
import { sendToRoom } from "../app/send-to-room.ts";
import { terminateConnections } from "../app/terminate-connections.ts";
import { userStatus } from "../app/user-status.ts";
import { type Config, loadConfig } from "../core/config.ts";
import { senderOf, TRUSTED_CALLER } from "../http/api/auth.ts";
import { parseInput, terminationOf } from "../http/api/body.ts";
import {
  BroadcastBodySchema,
  DirectMessageBodySchema,
  GroupMessageBodySchema,
  GroupNameParamSchema,
  NotificationBodySchema,
  TerminateConnectionsBodySchema,
} from "../http/api/schemas.ts";
import { forRpc, GatewayError, toGatewayError } from "../protocol/errors.ts";
import { UserIdSchema } from "../protocol/messages.ts";
import {
  type BroadcastInput,
  type DirectMessageInput,
  type FanoutSent,
  type GroupMessageInput,
  type MessageSent,
  type NotificationInput,
  type NotificationSent,
  type OnlineUser,
  type RealtimeServiceBinding,
  type TerminateOptions,
  terminationBody,
  type UserId,
  type UserStatus,
} from "../sdk/server.ts";
import { appFromEnv } from "./actors-from-env.ts";

/**
 * An RPC argument parsed as the HTTP API parses a body: through JSON, size-limited, then the
 * same schema, so the binding accepts and refuses exactly what the HTTP API does.
 */
function parseArgument<TSchema extends v.GenericSchema>(
  schema: TSchema,
  value: unknown,
  field: string,
  maxBytes: number,
): v.InferOutput<TSchema> {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    throw new GatewayError("validation_failed", `${field}: is not JSON-serializable`, {
      details: { field },
    });
  }
  if (text === undefined) return parseInput(schema, undefined, field);
  if (new TextEncoder().encode(text).byteLength > maxBytes) {
    throw new GatewayError("message_too_large", `${field} exceeds ${maxBytes} bytes`, {
      details: { max_bytes: maxBytes },
    });
  }
  return parseInput(schema, JSON.parse(text), field);
}

export class RealtimeService extends WorkerEntrypoint<Env> implements RealtimeServiceBinding {
  /**
   * Run an operation. A failure crosses the binding as an Error whose message carries the
   * code and retry delay (`forRpc`; `RealtimeApiError.from(err)` reads them back), because Workers RPC drops
   * an error's own properties. A `#` method: Workers RPC exposes every ordinary method to
   * callers, and this one takes a function that would receive the actors.
   */
  async #run<T>(operation: (app: AppContext, config: Config) => Promise<T>) {
    try {
      const config = loadConfig(this.env);
      const app = appFromEnv(this.env, config);
      return await operation(app, config);
    } catch (err) {
      const error = toGatewayError(err);
      if (error.code === "internal") console.error("RealtimeService:run", err);
      throw forRpc(error);
    }
  }

  async sendNotificationToUser(
    userId: UserId,
    notification: NotificationInput,
  ): Promise<NotificationSent> {
    return this.#run(async (app, config) => {
      const body = parseArgument(
        NotificationBodySchema,
        notification,
        "notification",
        config.maxFrameBytes,
      );
      return notify(app, parseInput(UserIdSchema, userId, "user_id"), body);
    });
  }

  async sendMessageToUser(userId: UserId, message: DirectMessageInput): Promise<MessageSent> {
    return this.#run(async (app, config) => {
      const body = parseArgument(
        DirectMessageBodySchema,
        {
          from_user_id: message?.fromUserId,
          message: message?.message,
          message_type: message?.messageType,
        },
        "message",
        config.maxFrameBytes,
      );
      const sent = await sendDirectMessage(app, parseInput(UserIdSchema, userId, "user_id"), {
        from: senderOf(TRUSTED_CALLER, body.from_user_id),
        message: body.message,
        messageType: body.message_type,
      });
      return { messageId: sent.messageId, delivered: sent.recipients > 0 };
    });
  }

  async broadcastSystemMessage(broadcast: BroadcastInput): Promise<FanoutSent> {
    return this.#run(async (app, config) => {
      const body = parseArgument(
        BroadcastBodySchema,
        { message: broadcast?.message, message_type: broadcast?.messageType },
        "broadcast",
        config.maxFrameBytes,
      );
      const sent = await broadcastToAll(app, config.presenceShards, {
        fromUserId: null,
        message: body.message,
        messageType: body.message_type,
      });
      return { messageId: sent.messageId, recipients: sent.recipients };
    });
  }

  async sendToGroup(groupName: string, message: GroupMessageInput): Promise<FanoutSent> {
    return this.#run(async (app, config) => {
      const body = parseArgument(
        GroupMessageBodySchema,
        { message_type: message?.messageType, data: message?.data },
        "message",
        config.maxFrameBytes,
      );
      const name = parseInput(GroupNameParamSchema, groupName, "group_name");
      const sent = await sendToRoom(app, config, name, {
        fromUserId: null,
        messageType: body.message_type,
        data: body.data,
      });
      return { messageId: sent.messageId, recipients: sent.recipients };
    });
  }

  /** The full status; throws `user_not_found` for a user the gateway does not know. */
  async getUserStatus(userId: UserId): Promise<UserStatus> {
    return this.#run(async (app) => {
      return userStatus(app, parseInput(UserIdSchema, userId, "user_id"));
    });
  }

  /** false for a user the gateway does not know. */
  async isUserOnline(userId: UserId): Promise<boolean> {
    return (await this.#statusOrNull(userId))?.isOnline ?? false;
  }

  /** 0 for a user the gateway does not know. */
  async getUserConnectionCount(userId: UserId): Promise<number> {
    return (await this.#statusOrNull(userId))?.connectionCount ?? 0;
  }

  async getAllOnlineUsers(): Promise<OnlineUser[]> {
    return this.#run(async (app, config) => {
      return onlineUsers(app, config.presenceShards);
    });
  }

  async terminateUserConnections(
    userId: UserId,
    options?: TerminateOptions,
  ): Promise<{ closed: number }> {
    return this.#run(async (app, config) => {
      const body = parseArgument(
        TerminateConnectionsBodySchema,
        terminationBody(options ?? {}),
        "options",
        config.maxFrameBytes,
      );
      return terminateConnections(
        app,
        parseInput(UserIdSchema, userId, "user_id"),
        terminationOf(body),
      );
    });
  }

  async #statusOrNull(userId: UserId): Promise<UserStatus | null> {
    try {
      return await this.getUserStatus(userId);
    } catch (err) {
      if (toGatewayError(err).code === "user_not_found") return null;
      throw err;
    }
  }
}
