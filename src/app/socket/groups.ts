/**
 * join_group, leave_group and group_message on user sockets. Membership is per connection:
 * the socket's attachment lists its groups and the group's RoomHub lists its members.
 */
import { verifySubscriptionToken } from "../../core/auth.ts";
import { MAX_GROUPS_PER_CONNECTION, mayJoin, validateGroupName } from "../../core/groups.ts";
import { groupJoined, roomFrame } from "../../core/room-history.ts";
import { GatewayError } from "../../protocol/errors.ts";
import type { RoomJoined } from "../context.ts";
import { joinRoom } from "../join-room.ts";
import { leaveRoom } from "../leave-room.ts";
import { sendToRoom } from "../send-to-room.ts";
import { type Handler, operationContext } from "./types.ts";

export const joinGroup: Handler<"join_group"> = async (ctx, command) => {
  const name = validateGroupName(command.data.group_name, ctx.config);
  const { connection } = ctx;
  let bySubscription = false;
  if (!connection.groups.includes(name)) {
    const token = command.data.token;
    const byRights = mayJoin(connection, name, ctx.config);
    // Remembered, so that a refresh_token (which re-checks the rights) keeps this group.
    bySubscription =
      !byRights &&
      token !== undefined &&
      (await verifySubscriptionToken(token, ctx.config, connection.userId, name));
    if (!byRights && !bySubscription)
      throw new GatewayError("forbidden", "not allowed to join this group", {
        details: { group_name: name },
      });
    if (connection.groups.length >= MAX_GROUPS_PER_CONNECTION) {
      throw new GatewayError(
        "forbidden",
        `a connection may join at most ${MAX_GROUPS_PER_CONNECTION} groups`,
      );
    }
  }
  // Joined before the room is asked, so a message the room sends meanwhile reaches this
  // socket instead of finding no joined socket (it may then come before the replayed ones;
  // group_seq orders them).
  const added = !connection.groups.includes(name);
  if (added) {
    connection.groups.push(name);
    if (bySubscription) connection.subscribed.push(name);
    ctx.holder.saveConnection(connection);
  }
  const { since_group_seq: sinceSeq, epoch } = command.data;
  const since =
    sinceSeq === undefined
      ? undefined
      : { groupSeq: sinceSeq, ...(epoch === undefined ? {} : { epoch }) };
  let joined: RoomJoined;
  try {
    joined = await joinRoom(
      operationContext(ctx),
      name,
      connection.userId,
      connection.connectionId,
      since,
    );
  } catch (err) {
    if (added) {
      connection.groups = connection.groups.filter((g) => g !== name);
      connection.subscribed = connection.subscribed.filter((g) => g !== name);
      ctx.holder.saveConnection(connection);
    }
    throw err;
  }
  for (const entry of joined.history.messages) ctx.send(roomFrame(entry, "user"));
  ctx.reply("group_joined", groupJoined(name, joined.memberCount, joined.history));
};

export const leaveGroup: Handler<"leave_group"> = async (ctx, command) => {
  const name = command.data.group_name;
  const { connection } = ctx;
  if (!connection.groups.includes(name)) {
    throw new GatewayError("not_in_group", "this connection has not joined that group", {
      details: { group_name: name },
    });
  }
  connection.groups = connection.groups.filter((g) => g !== name);
  connection.subscribed = connection.subscribed.filter((g) => g !== name);
  ctx.holder.saveConnection(connection);
  const memberCount = await leaveRoom(
    operationContext(ctx),
    name,
    connection.userId,
    connection.connectionId,
  );
  ctx.reply("group_left", { group_name: name, member_count: memberCount });
};

export const groupMessage: Handler<"group_message"> = async (ctx, command) => {
  const { group_name: name, message, message_type } = command.data;
  if (!ctx.connection.groups.includes(name)) {
    throw new GatewayError("not_in_group", "only members may send to a group", {
      details: { group_name: name },
    });
  }
  const sent = await sendToRoom(operationContext(ctx), ctx.config, name, {
    fromUserId: ctx.connection.userId,
    messageType: message_type,
    message,
  });
  ctx.budget.chargeReached(sent.recipients);
  ctx.reply("message_sent", {
    message_id: sent.messageId,
    group_name: name,
    recipients: sent.recipients,
    delivered: sent.recipients > 0,
    sent_at: sent.sentAt,
  });
};

/** consultation_message belongs to consultation sockets, which their RoomHub serves. */
export const consultationOnly: Handler<"consultation_message"> = () => {
  throw new GatewayError(
    "forbidden",
    "consultation_message is only accepted on consultation sockets",
  );
};
