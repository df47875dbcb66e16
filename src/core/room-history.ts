/**
 * A room's history (docs/protocol.md, "Rooms"): every room message (`group_message`,
 * `consultation_message`) is stored once, in its room, with the room's next `group_seq` and the
 * history's `epoch`, so a client that missed some can have them replayed (`join_group` with
 * `since_group_seq`, `resume` on room sockets). Pruned by count (ROOM_HISTORY_MAX) and age
 * (ROOM_HISTORY_TTL_SECONDS), always oldest first.
 *
 * The epoch is a random string created together with the history's storage. Storage that is
 * lost (a wiped or replaced actor) comes back with a new epoch and group_seq counting from 1
 * again, so a client holding a position of the old epoch is told its gap cannot be filled.
 */
import { encodeRawFrame } from "../protocol/codec.ts";
import type {
  GroupJoined,
  Resumed,
  RoomMessageType,
  RoomPosition,
  ServerData,
} from "../protocol/messages.ts";
import type { Sql } from "./sql.ts";

export interface RoomHistoryLimits {
  /** Most messages kept. Default 1,000 (ROOM_HISTORY_MAX). */
  max: number;
  /** Oldest message kept, in seconds. Default 604,800 = 7 days (ROOM_HISTORY_TTL_SECONDS). */
  ttlSeconds: number;
}

/** One stored room message. */
export interface RoomEntry {
  groupSeq: number;
  type: RoomMessageType;
  /** The frame's data as JSON text, `group_seq` and `epoch` included. */
  json: string;
  /** ms since epoch */
  createdAt: number;
}

/** A room message's data before the room gives it a position. */
export type UnplacedRoomData<K extends RoomMessageType> = Omit<ServerData[K], keyof RoomPosition>;

/** A client's position in a room: the last group_seq it saw, and the epoch, when it knows it. */
export interface RoomSince {
  groupSeq: number;
  epoch?: string;
}

export interface RoomReplay {
  /** Oldest first. */
  messages: RoomEntry[];
  /** The position asked for. */
  fromSeq: number;
  /** The room's last group_seq: the client is up to date to here once it has the messages. */
  groupSeq: number;
  epoch: string;
  /**
   * false when some messages after `fromSeq` are not in `messages`: pruned, past the replay
   * limit, or counted in an epoch whose history is lost.
   */
  complete: boolean;
}

/** The most messages one replay sends; older missed ones are reported as incomplete. */
export const MAX_ROOM_REPLAY = 1_000;

const ROOM_TYPES: Record<RoomMessageType, true> = {
  group_message: true,
  consultation_message: true,
};

const isRoomType = (type: string): type is RoomMessageType => Object.hasOwn(ROOM_TYPES, type);

interface HistoryState {
  epoch: string;
  lastSeq: number;
  /**
   * The oldest stored group_seq (lastSeq + 1 when none is stored). Seqs are handed out one by
   * one and pruning always takes the oldest, so what is stored is exactly firstSeq..lastSeq.
   */
  firstSeq: number;
  /** created_at of firstSeq, or null when nothing is stored. */
  firstAt: number | null;
}

/**
 * Per message: one INSERT, plus one DELETE once the room holds ROOM_HISTORY_MAX messages.
 * Every write goes through this object (one per actor, single-threaded), so the state is kept
 * in memory after the first read.
 */
export class RoomHistory {
  private readonly sql: Sql;
  private readonly limits: RoomHistoryLimits;
  private readonly newEpoch: () => string;
  private state: HistoryState | null = null;

  constructor(
    sql: Sql,
    limits: RoomHistoryLimits,
    newEpoch: () => string = () => crypto.randomUUID(),
  ) {
    this.sql = sql;
    this.limits = limits;
    this.newEpoch = newEpoch;
    // message_id makes a retried publish idempotent: stored, numbered and sent once.
    sql.exec(`CREATE TABLE IF NOT EXISTS room_history (
      group_seq INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
      data TEXT NOT NULL, created_at INTEGER NOT NULL)`);
    // The epoch, and last_seq once the history was pruned empty.
    sql.exec(
      "CREATE TABLE IF NOT EXISTS room_history_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    );
  }

  private load(): HistoryState {
    if (this.state !== null) return this.state;
    const meta = new Map(
      this.sql
        .exec<{ key: string; value: string }>("SELECT key, value FROM room_history_meta")
        .toArray()
        .map((row) => [row.key, row.value]),
    );
    let epoch = meta.get("epoch");
    if (epoch === undefined) {
      epoch = this.newEpoch();
      this.setMeta("epoch", epoch);
    }
    const [range] = this.sql
      .exec<{ lo: number | null; hi: number | null }>(
        "SELECT min(group_seq) AS lo, max(group_seq) AS hi FROM room_history",
      )
      .toArray();
    const lastSeq = Math.max(range?.hi ?? 0, Number(meta.get("last_seq") ?? 0));
    const firstSeq = range?.lo ?? lastSeq + 1;
    this.state = { epoch, lastSeq, firstSeq, firstAt: this.createdAt(firstSeq) };
    return this.state;
  }

  /** The room's position now: its last group_seq (0 before the first message) and epoch. */
  position(): RoomPosition {
    const { lastSeq, epoch } = this.load();
    return { group_seq: lastSeq, epoch };
  }

  /**
   * Store a message with the next group_seq; `duplicate` when that message id was stored
   * before (then the stored one is returned and nothing is stored again).
   */
  append<K extends RoomMessageType>(
    messageId: string,
    type: K,
    data: UnplacedRoomData<K>,
    now: number,
  ): { entry: RoomEntry; duplicate: boolean } {
    const state = this.load();
    const groupSeq = state.lastSeq + 1;
    const json = JSON.stringify({ ...data, group_seq: groupSeq, epoch: state.epoch });
    try {
      this.sql.exec(
        "INSERT INTO room_history (group_seq, message_id, type, data, created_at) VALUES (?, ?, ?, ?, ?)",
        groupSeq,
        messageId,
        type,
        json,
        now,
      );
    } catch (err) {
      const existing = this.entryOf(messageId);
      if (existing === null) throw err;
      return { entry: existing, duplicate: true };
    }
    state.lastSeq = groupSeq;
    if (state.firstAt === null) state.firstAt = now;
    this.prune(now);
    return { entry: { groupSeq, type, json, createdAt: now }, duplicate: false };
  }

  /**
   * The messages after `since`, oldest first (at most MAX_ROOM_REPLAY, the newest ones); with
   * no `since`, none (the room's position only). A position of another epoch, or past the
   * room's last group_seq (the history was lost and started over), gets every message of the
   * current epoch, reported as incomplete.
   */
  replay(since: RoomSince | undefined, now: number): RoomReplay {
    this.prune(now);
    const state = this.load();
    if (since === undefined) {
      const { lastSeq: groupSeq, epoch } = state;
      return { messages: [], fromSeq: groupSeq, groupSeq, epoch, complete: true };
    }
    const { groupSeq: sinceSeq, epoch } = since;
    const lost = (epoch !== undefined && epoch !== state.epoch) || sinceSeq > state.lastSeq;
    const from = lost ? 0 : sinceSeq;
    const after = Math.max(from, state.lastSeq - MAX_ROOM_REPLAY);
    const rows = this.sql
      .exec<{ group_seq: number; type: string; data: string; created_at: number }>(
        "SELECT group_seq, type, data, created_at FROM room_history WHERE group_seq > ? ORDER BY group_seq",
        after,
      )
      .toArray();
    return {
      messages: rows.flatMap((row) => {
        const entry = toEntry(row);
        return entry === null ? [] : [entry];
      }),
      fromSeq: sinceSeq,
      groupSeq: state.lastSeq,
      epoch: state.epoch,
      complete: !lost && after === from && from >= state.firstSeq - 1,
    };
  }

  /** Drops what is past ROOM_HISTORY_MAX or older than ROOM_HISTORY_TTL_SECONDS. */
  private prune(now: number): void {
    const state = this.load();
    if (state.firstAt === null) return;
    let through = state.lastSeq - this.limits.max;
    const cutoff = now - this.limits.ttlSeconds * 1000;
    if (state.firstAt < cutoff) {
      const [expired] = this.sql
        .exec<{ seq: number | null }>(
          "SELECT max(group_seq) AS seq FROM room_history WHERE created_at < ?",
          cutoff,
        )
        .toArray();
      through = Math.max(through, expired?.seq ?? 0);
    }
    if (through < state.firstSeq) return;
    this.sql.exec("DELETE FROM room_history WHERE group_seq <= ?", through);
    state.firstSeq = through + 1;
    state.firstAt = this.createdAt(state.firstSeq);
    // Pruned empty: last_seq must survive, or the next message would reuse a group_seq.
    if (state.firstAt === null) this.setMeta("last_seq", String(state.lastSeq));
  }

  private createdAt(groupSeq: number): number | null {
    const [row] = this.sql
      .exec<{ created_at: number }>(
        "SELECT created_at FROM room_history WHERE group_seq = ?",
        groupSeq,
      )
      .toArray();
    return row?.created_at ?? null;
  }

  private entryOf(messageId: string): RoomEntry | null {
    const [row] = this.sql
      .exec<{ group_seq: number; type: string; data: string; created_at: number }>(
        "SELECT group_seq, type, data, created_at FROM room_history WHERE message_id = ?",
        messageId,
      )
      .toArray();
    return row === undefined ? null : toEntry(row);
  }

  private setMeta(key: string, value: string): void {
    this.sql.exec(
      "INSERT INTO room_history_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      value,
    );
  }
}

function toEntry(row: {
  group_seq: number;
  type: string;
  data: string;
  created_at: number;
}): RoomEntry | null {
  if (!isRoomType(row.type)) return null;
  return { groupSeq: row.group_seq, type: row.type, json: row.data, createdAt: row.created_at };
}

/**
 * The frame of a stored room message. On user sockets it has no `seq` (that is the user's
 * mailbox position); on room and consultation sockets, whose stream is the room's history,
 * `seq` is its group_seq, so `resume` works there as on user sockets.
 */
export function roomFrame(entry: RoomEntry, socket: "user" | "room"): string {
  const ts = new Date(entry.createdAt).toISOString();
  return encodeRawFrame(
    entry.type,
    entry.json,
    socket === "room" ? { seq: entry.groupSeq, ts } : { ts },
  );
}

/** A room replay as `resume` sends it on room sockets: `seq` is the group_seq. */
export function roomResumption(replay: RoomReplay): { frames: string[]; resumed: Resumed } {
  return {
    frames: replay.messages.map((entry) => roomFrame(entry, "room")),
    resumed: { from_seq: replay.fromSeq, to_seq: replay.groupSeq, complete: replay.complete },
  };
}

/** `group_joined` after a join's replay. */
export function groupJoined(
  groupName: string,
  memberCount: number,
  replay: RoomReplay,
): GroupJoined {
  return {
    group_name: groupName,
    member_count: memberCount,
    group_seq: replay.groupSeq,
    epoch: replay.epoch,
    complete: replay.complete,
  };
}
