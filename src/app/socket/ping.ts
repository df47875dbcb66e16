import type { Handler } from "./types.ts";

/** Pings other than the exact `{"type":"ping"}` frame (which the runtime answers) reach here. */
export const ping: Handler<"ping"> = (ctx) => {
  ctx.reply("pong", { server_time: new Date(ctx.now()).toISOString() });
};
