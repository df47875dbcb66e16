/**
 * Delivering a message to the UserHub's user (src/core/delivery.ts) with what only the hub has:
 * its sockets, mailbox and known-user check; a sender's hand-over time is refused when too old
 * (DELIVERY_MAX_WAIT_MS) and otherwise measured for the delivery-duration histogram.
 */
import type { Config } from "../core/config.ts";
import type { Deadlines } from "../core/deadlines.ts";
import { type Delivery, type DeliveryResult, deliver, type RecentIds } from "../core/delivery.ts";
import type { KnownUser } from "../core/known-user.ts";
import type { Mailbox } from "../core/mailbox.ts";
import { admitQueued } from "../core/overload.ts";
import { meter } from "./meter.ts";
import type { SocketHost } from "./socket-host.ts";
import { SocketSet } from "./socket-set.ts";

export interface UserDeliveryParts {
  config: Config;
  host: SocketHost;
  mailbox: Mailbox;
  knownUser: KnownUser;
  deadlines: Deadlines;
  /** Room messages pushed lately, so a fan-out shard's retry does not push one twice. */
  pushed: RecentIds;
}

export async function deliverToUser(
  parts: UserDeliveryParts,
  userId: string,
  delivery: Delivery,
  offeredAt: number | undefined,
): Promise<DeliveryResult> {
  admitQueued(offeredAt, Date.now(), parts.config.overload);
  const result = await deliver(
    {
      mailbox: parts.mailbox,
      pushed: parts.pushed,
      sockets: () =>
        parts.host.sockets.entries().map(({ ws, connection }) => ({
          groups: connection.groups,
          send: (frame: string) => SocketSet.send(ws, frame),
        })),
      isKnownUser: () => parts.knownUser.check(userId),
      now: Date.now,
    },
    delivery,
  );
  if (offeredAt !== undefined && result.status === "delivered") {
    meter.observeDelivery((Date.now() - offeredAt) / 1000);
  }
  await parts.deadlines.ensureBy(meter.flushDueAt());
  return result;
}
