import type { StatusResponse } from "../../protocol/messages.ts";
import type { Handler } from "./types.ts";

export const getStatus: Handler<"get_status"> = async (ctx, command) => {
  const response: StatusResponse = {
    user_id: ctx.connection.userId,
    is_online: true,
    connection_count: await ctx.host.connectionCount(),
    connection_id: ctx.connection.connectionId,
    groups: [...ctx.connection.groups],
  };
  const userIds = command.data?.user_ids;
  if (userIds !== undefined && userIds.length > 0) {
    response.users = await ctx.host.userStatuses([...new Set(userIds)]);
  }
  ctx.reply("status_response", response);
};
