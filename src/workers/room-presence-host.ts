/**
 * What a RoomHub adds for presence: members' flips told to the other members in batches
 * (src/core/room-presence.ts, on an in-memory timer) and, with room webhook events configured,
 * `room.occupied` / `room.vacated` from the room's own outbox (src/core/room-occupancy.ts). The
 * RoomHub calls `announce` for a flip, `changed` whenever its online count may have changed,
 * `onAlarm` from its alarm, and adds `nextWakeAt` to its alarm time.
 */
import { CachedStore } from "../core/cached-store.ts";
import type { Config } from "../core/config.ts";
import { RoomOccupancy } from "../core/room-occupancy.ts";
import { RoomPresence } from "../core/room-presence.ts";
import type { WebhookOutbox } from "../core/webhook-outbox.ts";
import { createWebhookOutbox } from "../mirrors/webhook.ts";
import { encodeFrame } from "../protocol/codec.ts";
import type { StatusChanged } from "../protocol/messages.ts";

export interface RoomView {
  name(): string;
  /** Members on user sockets (reached through their UserHubs). */
  memberIds(): Set<string>;
  /** Users online in the room, on any kind of socket. */
  onlineCount(): number;
  /** Send a frame to the sockets the room holds itself, except those of `exceptUserId`. */
  broadcastLocal(frame: string, exceptUserId?: string): void;
  /** Set the room's alarm again (a webhook event was stored). */
  reschedule(): Promise<void>;
}

const ROOM_EVENTS = ["room.occupied", "room.vacated"];

export class RoomPresenceHost {
  private readonly presence: RoomPresence;
  private readonly webhooks: WebhookOutbox | null;
  private readonly occupancy: RoomOccupancy | null;
  private readonly room: RoomView;

  constructor(ctx: DurableObjectState, env: Env, config: Config, room: RoomView) {
    this.room = room;
    const hub = (userId: string) => env.USER_HUB.getByName(userId);
    this.presence = new RoomPresence(
      {
        wakeAt: (at) => {
          setTimeout(
            () => {
              this.presence.flush(Date.now()).catch((err: unknown) => {
                console.warn(`RoomHub:presence: ${room.name()}: flush failed: ${String(err)}`);
              });
            },
            Math.max(0, at - Date.now()),
          );
        },
        members: () => [...room.memberIds()],
        onlineCount: () => room.onlineCount(),
        pushStatuses: (userId, statuses) => hub(userId).pushRoomPresence(room.name(), { statuses }),
        pushCount: (userId, onlineCount) =>
          hub(userId).pushRoomPresence(room.name(), { onlineCount }),
        local: (update) => {
          if ("onlineCount" in update) {
            const data = { group_name: room.name(), online_count: update.onlineCount };
            room.broadcastLocal(encodeFrame("room_presence", data));
          } else {
            for (const status of update.statuses)
              room.broadcastLocal(encodeFrame("status_changed", status), status.user_id);
          }
        },
        log: (message) => console.log(`RoomHub:presence: ${room.name()}: ${message}`),
      },
      config.roomPresenceMaxMembers,
    );
    const wanted = config.webhook?.events.some((type) => ROOM_EVENTS.includes(type)) ?? false;
    this.webhooks = wanted
      ? createWebhookOutbox(
          config.webhook,
          new CachedStore(ctx.storage),
          () => env.MIRROR_MONITOR.getByName("global"),
          "RoomHub",
        )
      : null;
    this.occupancy =
      this.webhooks && new RoomOccupancy(new CachedStore(ctx.storage), this.webhooks);
  }

  /** A member flipped online or offline. */
  announce(status: StatusChanged, now: number): void {
    this.presence.receive(status, now);
  }

  /** The room's online count may have changed (a join, a leave, a room socket). */
  async changed(now = Date.now()): Promise<void> {
    const recorded = await this.occupancy?.update(this.room.name(), this.room.onlineCount(), now);
    if (recorded) await this.room.reschedule();
  }

  /** Send the room's due webhook events. */
  async onAlarm(): Promise<void> {
    await this.webhooks?.flush();
  }

  /** When the alarm must fire for the webhook outbox, or null. */
  async nextWakeAt(): Promise<number | null> {
    return (await this.webhooks?.nextWakeAt()) ?? null;
  }
}
