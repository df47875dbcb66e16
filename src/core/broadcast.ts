/**
 * A system broadcast fans out to every PresenceShard in parallel; each shard delivers to its
 * online users. A shard call that fails (evicted, overloaded) is retried: deliveries are
 * idempotent by message id, so users already reached are not sent the message twice.
 */
export async function broadcastToShards(
  shards: number,
  callShard: (index: number) => Promise<number>,
  options: { attempts?: number; log?: (message: string) => void } = {},
): Promise<number> {
  const attempts = options.attempts ?? 3;
  const counts = await Promise.all(
    Array.from({ length: shards }, async (_, index) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await callShard(index);
        } catch (err) {
          options.log?.(
            `broadcast: shard ${index} failed (attempt ${attempt}): ${err instanceof Error ? err.message : String(err)}`,
          );
          if (attempt >= attempts) throw err;
        }
      }
    }),
  );
  return counts.reduce((sum, n) => sum + n, 0);
}
