/**
 * The presence mirrors configured for this deployment. A mirror whose settings are absent is
 * off (and said so once at start by the Worker).
 */
import type { Config } from "../core/config.ts";
import type { PresenceSnapshot } from "../core/presence.ts";
import type { MirrorTarget } from "../core/presence-keeper.ts";

export type MirrorWriters = Partial<
  Record<MirrorTarget, (snapshot: PresenceSnapshot) => Promise<void>>
>;

export function createMirrors(_config: Config): MirrorWriters {
  // TEMPORARY until src/mirrors/{redis,postgres}.ts land (issue 3).
  return {};
}
