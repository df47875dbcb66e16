import { socketStatus } from "../socket-status.ts";
import { type Handler, operationContext } from "./types.ts";

export const getStatus: Handler<"get_status"> = async (ctx, command) => {
  const status = await socketStatus(
    operationContext(ctx),
    { connection: ctx.connection, connectionCount: await ctx.holder.connectionCount() },
    command.data?.user_ids,
  );
  ctx.reply("status_response", status);
};
