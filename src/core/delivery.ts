/**
 * Delivering a message to one user: store it in their mailbox (with a seq) and push it to
 * their sockets. Which sockets receive it and when it is stored are rules of the protocol
 * ("Mailbox scope"), kept here in one table. Room messages are stored once in their room
 * (room-history.ts), never in a user's mailbox: they are only pushed.
 */
import { encodeRawFrame } from "../protocol/codec.ts";
import type { MailboxType, RoomMessageType, ServerData } from "../protocol/messages.ts";
import type { Mailbox } from "./mailbox.ts";
import type { RoomEntry } from "./room-history.ts";

export type DeliveryType = MailboxType | RoomMessageType;

/** A message on its way to users. Its data is JSON text, encoded once by `newDelivery`. */
export interface Delivery {
  type: DeliveryType;
  /** `ServerData[type]` as JSON. */
  json: string;
  /** Idempotency key: a retried delivery of the same id is stored and sent once. */
  messageId: string;
  /** Group deliveries reach only the sockets that joined this group. */
  group?: string;
  /** When the message was stored (ms since epoch), for its `ts`; default: when delivered. */
  createdAt?: number;
}

const isMailboxType = (type: DeliveryType): type is MailboxType => RULES[type].store !== "never";

export function newDelivery<K extends DeliveryType>(
  type: K,
  data: ServerData[K],
  messageId: string,
  group?: string,
): Delivery {
  const delivery: Delivery = { type, json: JSON.stringify(data), messageId };
  if (group !== undefined) delivery.group = group;
  return delivery;
}

/** A stored room message to the members' sockets that joined `group`. */
export function roomDelivery(entry: RoomEntry, messageId: string, group: string): Delivery {
  return { type: entry.type, json: entry.json, messageId, group, createdAt: entry.createdAt };
}

interface Rule {
  /** Direct messages and notifications wait in the mailbox of an offline user. */
  store: "always" | "if_reached" | "never";
  /** Refuse with user_not_found when the user is unknown and has no live socket. */
  requireKnownUser: boolean;
}

const RULES: Record<DeliveryType, Rule> = {
  user_message: { store: "always", requireKnownUser: true },
  notification: { store: "always", requireKnownUser: true },
  system_broadcast: { store: "if_reached", requireKnownUser: false },
  group_message: { store: "never", requireKnownUser: false },
  consultation_message: { store: "never", requireKnownUser: false },
};

export interface DeliverySocket {
  send(frame: string): void;
  readonly groups: readonly string[];
}

/**
 * Ids of the last messages pushed without a mailbox write (room messages), so a delivery
 * retried by a fan-out shard is not pushed twice. In memory: retries come within seconds.
 */
export class RecentIds {
  readonly #ids = new Set<string>();
  readonly #capacity: number;

  constructor(capacity = 1_024) {
    this.#capacity = capacity;
  }

  /** Whether `id` was seen already; remembers it either way (the oldest one goes past capacity). */
  seen(id: string): boolean {
    if (this.#ids.has(id)) return true;
    this.#ids.add(id);
    if (this.#ids.size > this.#capacity) {
      const [oldest] = this.#ids;
      if (oldest !== undefined) this.#ids.delete(oldest);
    }
    return false;
  }
}

export interface Recipient {
  mailbox: Mailbox;
  /** Room messages pushed lately; without it a retried room message is pushed again. */
  pushed?: RecentIds;
  /** The user's open sockets right now. */
  sockets(): DeliverySocket[];
  /** Whether the user exists even though no socket is open (seen before, or in the app's table). */
  isKnownUser(): Promise<boolean>;
  now(): number;
}

export type DeliveryResult =
  | {
      status: "delivered" | "stored" | "duplicate" | "dropped";
      seq: number | null;
      sockets: number;
      connectionCount: number;
    }
  | { status: "not_found"; seq: null; sockets: 0; connectionCount: 0 };

export async function deliver(recipient: Recipient, delivery: Delivery): Promise<DeliveryResult> {
  const rule = RULES[delivery.type];
  const all = recipient.sockets();
  if (rule.requireKnownUser && all.length === 0 && !(await recipient.isKnownUser())) {
    return { status: "not_found", seq: null, sockets: 0, connectionCount: 0 };
  }
  const { group } = delivery;
  const targets = group === undefined ? all : all.filter((socket) => socket.groups.includes(group));
  const connectionCount = all.length;
  if (rule.store !== "always" && targets.length === 0) {
    return { status: "dropped", seq: null, sockets: 0, connectionCount };
  }
  const now = recipient.now();
  if (!isMailboxType(delivery.type)) {
    if (recipient.pushed?.seen(delivery.messageId)) {
      return { status: "duplicate", seq: null, sockets: 0, connectionCount };
    }
    // Stored once in the room already: pushed only, with no per-user seq.
    const ts = new Date(delivery.createdAt ?? now).toISOString();
    const frame = encodeRawFrame(delivery.type, delivery.json, { ts });
    for (const socket of targets) socket.send(frame);
    return { status: "delivered", seq: null, sockets: targets.length, connectionCount };
  }
  const stored = recipient.mailbox.append(delivery.messageId, delivery.type, delivery.json, now);
  if (stored.duplicate) {
    return { status: "duplicate", seq: stored.seq, sockets: 0, connectionCount };
  }
  const seq = stored.seq;
  const frame = encodeRawFrame(delivery.type, delivery.json, {
    seq,
    ts: new Date(now).toISOString(),
  });
  for (const socket of targets) socket.send(frame);
  return {
    status: targets.length > 0 ? "delivered" : "stored",
    seq,
    sockets: targets.length,
    connectionCount,
  };
}
