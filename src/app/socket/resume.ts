import type { Handler } from "./types.ts";

/** Replay what was stored after `since_seq`, in order, then say what range was covered. */
export const resume: Handler<"resume"> = (ctx, command) => {
  const { frames, resumed } = ctx.holder.replay(command.data.since_seq);
  for (const frame of frames) ctx.send(frame);
  ctx.reply("resumed", resumed);
};
