import { describe, expect, it } from "vitest";
import {
  MAX_ROOM_REPLAY,
  RoomHistory,
  type RoomHistoryLimits,
  roomFrame,
  roomResumption,
} from "../../../src/core/room-history.ts";
import { memorySql, type TestSql } from "../helpers/sqlite.ts";

const T0 = Date.UTC(2026, 11, 5, 10, 0, 0);
const SECOND = 1_000;
const LIMITS: RoomHistoryLimits = { max: 1_000, ttlSeconds: 7 * 24 * 3600 };

let epochs = 0;
const nextEpoch = () => {
  epochs += 1;
  return `epoch-${epochs}`;
};

function historyWith(limits: Partial<RoomHistoryLimits> = {}, sql: TestSql = memorySql()) {
  return { sql, history: new RoomHistory(sql, { ...LIMITS, ...limits }, nextEpoch) };
}

/** Appends `count` group messages `m{n}` one second apart from `start`; returns their group_seqs. */
function post(history: RoomHistory, count: number, start = T0, firstId = 1): number[] {
  return Array.from({ length: count }, (_, i) => {
    const id = `m${firstId + i}`;
    const data = {
      message_id: id,
      group_name: "group_a",
      from_user_id: "ann",
      message_type: "group_message",
      message: `hello ${firstId + i}`,
      sent_at: new Date(start + i * SECOND).toISOString(),
    };
    return history.append(id, "group_message", data, start + i * SECOND).entry.groupSeq;
  });
}

const replayed = (history: RoomHistory, groupSeq: number, now = T0, epoch?: string) =>
  history.replay({ groupSeq, ...(epoch === undefined ? {} : { epoch }) }, now);

const seqs = (history: RoomHistory, since: number, now = T0) =>
  replayed(history, since, now).messages.map((m) => m.groupSeq);

describe("RoomHistory", () => {
  it("hands out group_seq 1, 2, 3 … and stamps each message with group_seq and epoch", () => {
    const { history } = historyWith();
    const { epoch } = history.position();
    expect(history.position()).toEqual({ group_seq: 0, epoch });
    expect(post(history, 3)).toEqual([1, 2, 3]);
    const [first] = replayed(history, 0).messages;
    expect(JSON.parse(first?.json ?? "")).toMatchObject({
      message_id: "m1",
      message: "hello 1",
      group_seq: 1,
      epoch,
    });
    expect(history.position()).toEqual({ group_seq: 3, epoch });
  });

  it("keeps its epoch and count across a new instance on the same storage (an evicted actor)", () => {
    const { sql, history } = historyWith();
    post(history, 2);
    const before = history.position();
    const again = new RoomHistory(sql, LIMITS, nextEpoch);
    expect(again.position()).toEqual(before);
    expect(post(again, 1, T0 + 10 * SECOND, 3)).toEqual([3]);
  });

  it("starts a new epoch, counting from 1 again, on storage that was wiped", () => {
    const { history } = historyWith();
    post(history, 5);
    const old = history.position();
    const wiped = new RoomHistory(memorySql(), LIMITS, nextEpoch);
    expect(wiped.position().group_seq).toBe(0);
    expect(wiped.position().epoch).not.toBe(old.epoch);
  });

  it("stores a retried message id once and answers the first entry", () => {
    const { history } = historyWith();
    post(history, 2);
    const again = history.append("m1", "group_message", {} as never, T0 + 5 * SECOND);
    expect(again.duplicate).toBe(true);
    expect(again.entry.groupSeq).toBe(1);
    expect(history.position().group_seq).toBe(2);
  });

  describe("replay", () => {
    it("answers the messages after a position, in order, complete", () => {
      const { history } = historyWith();
      post(history, 5);
      const replay = replayed(history, 2);
      expect(replay.messages.map((m) => m.groupSeq)).toEqual([3, 4, 5]);
      expect(replay).toMatchObject({ fromSeq: 2, groupSeq: 5, complete: true });
      expect(replayed(history, 5).messages).toEqual([]);
      expect(replayed(history, 5).complete).toBe(true);
    });

    it("answers only the position without a since", () => {
      const { history } = historyWith();
      post(history, 4);
      const replay = history.replay(undefined, T0);
      expect(replay).toEqual({
        messages: [],
        fromSeq: 4,
        groupSeq: 4,
        epoch: history.position().epoch,
        complete: true,
      });
    });

    it("says incomplete when older messages were pruned by count (ROOM_HISTORY_MAX)", () => {
      const { history } = historyWith({ max: 3 });
      post(history, 6);
      expect(seqs(history, 0)).toEqual([4, 5, 6]);
      expect(replayed(history, 2).complete).toBe(false);
      expect(replayed(history, 3).complete).toBe(true);
    });

    it("says incomplete when older messages expired (ROOM_HISTORY_TTL_SECONDS)", () => {
      const { history } = historyWith({ ttlSeconds: 60 });
      post(history, 3, T0);
      post(history, 2, T0 + 120 * SECOND, 4);
      const now = T0 + 150 * SECOND;
      expect(seqs(history, 0, now)).toEqual([4, 5]);
      expect(replayed(history, 1, now).complete).toBe(false);
      expect(replayed(history, 3, now).complete).toBe(true);
    });

    it("keeps counting after the history expired empty", () => {
      const { sql, history } = historyWith({ ttlSeconds: 60 });
      post(history, 3, T0);
      const later = T0 + 3_600 * SECOND;
      expect(seqs(history, 0, later)).toEqual([]);
      const again = new RoomHistory(sql, { ...LIMITS, ttlSeconds: 60 }, nextEpoch);
      expect(again.position().group_seq).toBe(3);
      expect(post(again, 1, later, 4)).toEqual([4]);
      expect(replayed(again, 3, later).complete).toBe(true);
      expect(replayed(again, 2, later).complete).toBe(false);
    });

    it("treats a position of another epoch as lost: the whole current history, incomplete", () => {
      const { history } = historyWith();
      post(history, 3);
      const replay = replayed(history, 2, T0, "an-older-epoch");
      expect(replay.messages.map((m) => m.groupSeq)).toEqual([1, 2, 3]);
      expect(replay.complete).toBe(false);
      expect(replayed(history, 2, T0, history.position().epoch).complete).toBe(true);
    });

    it("treats a position past the last group_seq as lost (the history started over)", () => {
      const { history } = historyWith();
      post(history, 2);
      const replay = replayed(history, 40);
      expect(replay.messages.map((m) => m.groupSeq)).toEqual([1, 2]);
      expect(replay.complete).toBe(false);
    });

    it(`sends at most the newest ${MAX_ROOM_REPLAY} and says the older ones are missing`, () => {
      const { history } = historyWith({ max: 5_000 });
      post(history, MAX_ROOM_REPLAY + 5);
      const replay = replayed(history, 0);
      expect(replay.messages).toHaveLength(MAX_ROOM_REPLAY);
      expect(replay.messages[0]?.groupSeq).toBe(6);
      expect(replay.complete).toBe(false);
    });
  });

  it("writes one row per message until the room is full, then one insert and one delete", () => {
    const { sql, history } = historyWith({ max: 2 });
    post(history, 2);
    sql.statements.length = 0;
    post(history, 1, T0 + 10 * SECOND, 3);
    const writes = sql.statements.filter((s) => /^\s*(INSERT|DELETE|UPDATE)/i.test(s));
    expect(writes).toHaveLength(2);
  });

  it("frames a message without seq for user sockets and with seq = group_seq for room sockets", () => {
    const { history } = historyWith();
    post(history, 2);
    const [, second] = replayed(history, 0).messages;
    if (second === undefined) throw new Error("no message");
    const onUser = JSON.parse(roomFrame(second, "user"));
    const onRoom = JSON.parse(roomFrame(second, "room"));
    expect(onUser.seq).toBeUndefined();
    expect(onUser.data.group_seq).toBe(2);
    expect(onUser.ts).toBe(new Date(T0 + SECOND).toISOString());
    expect(onRoom.seq).toBe(2);
    const { frames, resumed } = roomResumption(replayed(history, 1));
    expect(frames.map((f) => JSON.parse(f).seq)).toEqual([2]);
    expect(resumed).toEqual({ from_seq: 1, to_seq: 2, complete: true });
  });
});
