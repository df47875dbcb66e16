import { encodeRawFrame } from "../../protocol/codec.ts";
import type { Handler } from "./types.ts";

/** Replay the mailbox after `since_seq`, in order, then say what range was covered. */
export const resume: Handler<"resume"> = (ctx, command) => {
  const result = ctx.holder.replay(command.data.since_seq);
  for (const message of result.messages) {
    ctx.send(
      encodeRawFrame(message.type, message.json, {
        seq: message.seq,
        ts: new Date(message.createdAt).toISOString(),
      }),
    );
  }
  ctx.reply("resumed", {
    from_seq: result.fromSeq,
    to_seq: result.toSeq,
    complete: result.complete,
  });
};
