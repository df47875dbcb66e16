import type { AppContext } from "./context.ts";

/** Every online user, merged from all presence shards, ordered by id. */
export async function onlineUsers(
  app: AppContext,
  presenceShards: number,
): Promise<{ userId: string; connectionCount: number }[]> {
  const shards = await Promise.all(
    Array.from({ length: presenceShards }, (_, index) => app.actors.shard(index).online()),
  );
  return shards
    .flat()
    .map(({ user_id, connection_count }) => ({
      userId: user_id,
      connectionCount: connection_count,
    }))
    .sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
}
