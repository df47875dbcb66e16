/** Which PresenceShard holds a user: FNV-1a of the user id, modulo the shard count. Stable across deploys. */
export function shardOf(userId: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    hash ^= userId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}

export function shardName(index: number): string {
  return `presence:${index}`;
}
