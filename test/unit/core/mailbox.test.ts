import { describe, expect, it } from "vitest";
import { MAX_REPLAY, Mailbox, type MailboxLimits } from "../../../src/core/mailbox.ts";
import { memorySql, type TestSql } from "../helpers/sqlite.ts";

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);
const SECOND = 1_000;
const LIMITS: MailboxLimits = { max: 1_000, ttlSeconds: 7 * 24 * 3600 };

function mailboxWith(limits: Partial<MailboxLimits> = {}, sql: TestSql = memorySql()) {
  return { sql, mailbox: new Mailbox(sql, { ...LIMITS, ...limits }) };
}

/** Appends `count` messages `m{n}` one second apart from `start`; returns their seqs. */
function fill(mailbox: Mailbox, count: number, start = T0, firstId = 1): number[] {
  return Array.from(
    { length: count },
    (_, i) =>
      mailbox.append(
        `m${firstId + i}`,
        "user_message",
        JSON.stringify({ n: firstId + i }),
        start + i * SECOND,
      ).seq,
  );
}

const seqs = (mailbox: Mailbox, since: number, now: number) =>
  mailbox.replay(since, now).messages.map((m) => m.seq);

describe("Mailbox", () => {
  describe("seq", () => {
    it("starts at 0 for an empty mailbox and hands out 1, 2, 3 …", () => {
      const { mailbox } = mailboxWith();
      expect(mailbox.lastSeq()).toBe(0);
      expect(fill(mailbox, 5)).toEqual([1, 2, 3, 4, 5]);
      expect(mailbox.lastSeq()).toBe(5);
    });

    it("keeps counting across a new instance on the same database (an evicted actor)", () => {
      const { sql, mailbox } = mailboxWith();
      fill(mailbox, 3);
      const rebuilt = new Mailbox(sql, LIMITS);
      expect(rebuilt.lastSeq()).toBe(3);
      expect(
        rebuilt.append("after-eviction", "notification", JSON.stringify({}), T0 + 60 * SECOND).seq,
      ).toBe(4);
    });

    it("never reuses a seq after every stored message was pruned", () => {
      const { sql, mailbox } = mailboxWith({ ttlSeconds: 60 });
      fill(mailbox, 3);
      expect(mailbox.replay(0, T0 + 3_600 * SECOND).messages).toEqual([]);
      const rebuilt = new Mailbox(sql, { ...LIMITS, ttlSeconds: 60 });
      expect(
        rebuilt.append("later", "user_message", JSON.stringify({}), T0 + 3_600 * SECOND).seq,
      ).toBe(4);
    });
  });

  describe("append", () => {
    it("stores the same message id once, answering duplicate with its seq, without using up a seq", () => {
      const { mailbox } = mailboxWith();
      mailbox.append("dup", "user_message", JSON.stringify({ text: "first" }), T0);
      expect(
        mailbox.append("dup", "user_message", JSON.stringify({ text: "again" }), T0 + SECOND),
      ).toEqual({
        seq: 1,
        duplicate: true,
      });
      expect(mailbox.lastSeq()).toBe(1);
      expect(mailbox.append("next", "user_message", JSON.stringify({}), T0 + SECOND)).toEqual({
        seq: 2,
        duplicate: false,
      });
      expect(mailbox.replay(0, T0 + SECOND).messages.map((m) => JSON.parse(m.json))).toEqual([
        { text: "first" },
        {},
      ]);
    });

    it("stores the type, the data as JSON and the time it was stored", () => {
      const { mailbox } = mailboxWith();
      const data = { notification_id: "n1", title: "Hi", data: { nested: [1, "two", null] } };
      mailbox.append("n1", "notification", JSON.stringify(data), T0 + 123);
      expect(mailbox.replay(0, T0 + SECOND).messages).toEqual([
        { seq: 1, type: "notification", json: JSON.stringify(data), createdAt: T0 + 123 },
      ]);
    });
  });

  describe("seqOf", () => {
    it("answers the seq of a stored message id and null for one never stored", () => {
      const { mailbox } = mailboxWith();
      fill(mailbox, 3);
      expect(mailbox.seqOf("m2")).toBe(2);
      expect(mailbox.seqOf("m9")).toBeNull();
    });

    it("answers null once the message was pruned", () => {
      const { mailbox } = mailboxWith({ max: 2 });
      fill(mailbox, 3);
      expect(mailbox.seqOf("m1")).toBeNull();
      expect(mailbox.seqOf("m3")).toBe(3);
    });
  });

  describe("pruning by count (MAILBOX_MAX)", () => {
    it("keeps only the newest `max` messages", () => {
      const { mailbox } = mailboxWith({ max: 3 });
      fill(mailbox, 5);
      expect(seqs(mailbox, 0, T0 + 5 * SECOND)).toEqual([3, 4, 5]);
      expect(mailbox.lastSeq()).toBe(5);
    });

    it("keeps exactly `max` messages when `max` were stored", () => {
      const { mailbox } = mailboxWith({ max: 3 });
      fill(mailbox, 3);
      const result = mailbox.replay(0, T0 + 3 * SECOND);
      expect(result.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
      expect(result.complete).toBe(true);
    });

    it("remembers what it pruned across a new instance", () => {
      const { sql, mailbox } = mailboxWith({ max: 2 });
      fill(mailbox, 4);
      const rebuilt = new Mailbox(sql, { ...LIMITS, max: 2 });
      expect(rebuilt.replay(0, T0 + 4 * SECOND)).toMatchObject({ toSeq: 4, complete: false });
      expect(rebuilt.replay(2, T0 + 4 * SECOND)).toMatchObject({ toSeq: 4, complete: true });
    });
  });

  describe("notifications under their own quota (MAILBOX_NOTIFICATIONS_MAX)", () => {
    /** Appends one message of `type` per entry of `ids`, one second apart from `start`. */
    const add = (
      mailbox: Mailbox,
      type: "notification" | "user_message",
      ids: string[],
      start: number,
    ) =>
      ids.map((id, i) => mailbox.append(id, type, JSON.stringify({ id }), start + i * SECOND).seq);
    const idsIn = (mailbox: Mailbox, since: number, now: number) =>
      mailbox.replay(since, now).messages.map((m) => JSON.parse(m.json).id);

    it("keeps every notification when a flood of direct messages passes MAILBOX_MAX", () => {
      const { mailbox } = mailboxWith({ max: 3, notificationsMax: 5 });
      add(mailbox, "notification", ["n1", "n2"], T0);
      add(mailbox, "user_message", ["d1", "d2", "d3", "d4", "d5", "d6"], T0 + 10 * SECOND);
      const now = T0 + 20 * SECOND;
      expect(idsIn(mailbox, 0, now)).toEqual(["n1", "n2", "d4", "d5", "d6"]);
      // d1..d3 (seqs 3..5) were pruned: a resume from before them is incomplete, after them complete.
      expect(mailbox.replay(0, now)).toMatchObject({ toSeq: 8, complete: false });
      expect(mailbox.replay(4, now)).toMatchObject({ complete: false });
      expect(mailbox.replay(5, now)).toMatchObject({ complete: true });
    });

    it("prunes the oldest notifications past their own quota, never a direct message", () => {
      const { mailbox } = mailboxWith({ max: 3, notificationsMax: 2 });
      add(mailbox, "user_message", ["d1"], T0);
      add(mailbox, "notification", ["n1", "n2", "n3", "n4"], T0 + SECOND);
      const now = T0 + 10 * SECOND;
      expect(idsIn(mailbox, 0, now)).toEqual(["d1", "n3", "n4"]);
      expect(mailbox.replay(0, now).complete).toBe(false);
      expect(mailbox.replay(3, now).complete).toBe(true);
    });

    it("keeps seqs strictly increasing across both quotas and resumes in seq order", () => {
      const { mailbox } = mailboxWith({ max: 2, notificationsMax: 2 });
      const seqsStored = [
        ...add(mailbox, "user_message", ["d1"], T0),
        ...add(mailbox, "notification", ["n1"], T0 + SECOND),
        ...add(mailbox, "user_message", ["d2", "d3"], T0 + 2 * SECOND),
        ...add(mailbox, "notification", ["n2"], T0 + 4 * SECOND),
      ];
      expect(seqsStored).toEqual([1, 2, 3, 4, 5]);
      expect(seqs(mailbox, 0, T0 + 5 * SECOND)).toEqual([2, 3, 4, 5]);
    });

    it("remembers what was pruned from the middle across a new instance", () => {
      const { sql, mailbox } = mailboxWith({ max: 2, notificationsMax: 5 });
      add(mailbox, "notification", ["n1"], T0);
      add(mailbox, "user_message", ["d1", "d2", "d3", "d4"], T0 + SECOND); // d1, d2 (2, 3) pruned
      add(mailbox, "notification", ["n2"], T0 + 5 * SECOND);
      const rebuilt = new Mailbox(sql, { ...LIMITS, max: 2, notificationsMax: 5 });
      const now = T0 + 10 * SECOND;
      expect(rebuilt.replay(0, now)).toMatchObject({ toSeq: 6, complete: false });
      expect(rebuilt.replay(2, now)).toMatchObject({ complete: false });
      expect(rebuilt.replay(3, now)).toMatchObject({ complete: true });
      expect(idsIn(rebuilt, 0, now)).toEqual(["n1", "d3", "d4", "n2"]);
      // And it goes on counting and pruning per quota from what it found.
      add(rebuilt, "user_message", ["d5"], T0 + 6 * SECOND);
      expect(idsIn(rebuilt, 0, now)).toEqual(["n1", "d4", "n2", "d5"]);
    });

    it("defaults to 1,000 notifications whatever MAILBOX_MAX is", () => {
      const { mailbox } = mailboxWith({ max: 1 });
      add(mailbox, "notification", ["n1", "n2", "n3"], T0);
      add(mailbox, "user_message", ["d1", "d2"], T0 + 5 * SECOND);
      expect(idsIn(mailbox, 0, T0 + 10 * SECOND)).toEqual(["n1", "n2", "n3", "d2"]);
    });
  });

  describe("pruning by age (MAILBOX_TTL_SECONDS)", () => {
    it("drops messages older than the TTL when replaying", () => {
      const { mailbox } = mailboxWith({ ttlSeconds: 60 });
      mailbox.append("old", "user_message", JSON.stringify({}), T0);
      mailbox.append("new", "user_message", JSON.stringify({}), T0 + 30 * SECOND);
      expect(seqs(mailbox, 0, T0 + 61 * SECOND)).toEqual([2]);
      expect(mailbox.seqOf("old")).toBeNull();
    });

    it("keeps a message exactly TTL old and drops it one millisecond later", () => {
      const { mailbox } = mailboxWith({ ttlSeconds: 60 });
      mailbox.append("edge", "user_message", JSON.stringify({}), T0);
      expect(seqs(mailbox, 0, T0 + 60 * SECOND)).toEqual([1]);
      expect(seqs(mailbox, 0, T0 + 60 * SECOND + 1)).toEqual([]);
    });

    it("drops an older message but keeps one exactly TTL old in the same pass", () => {
      const { mailbox } = mailboxWith({ ttlSeconds: 60 });
      mailbox.append("older", "user_message", JSON.stringify({}), T0 - 1);
      mailbox.append("edge", "user_message", JSON.stringify({}), T0);
      const result = mailbox.replay(0, T0 + 60 * SECOND);
      expect(result.messages.map((m) => m.seq)).toEqual([2]);
      expect(mailbox.replay(1, T0 + 60 * SECOND).complete).toBe(true);
    });

    it("drops expired messages when a new one is appended", () => {
      const { sql, mailbox } = mailboxWith({ ttlSeconds: 60 });
      fill(mailbox, 3);
      mailbox.append("fresh", "user_message", JSON.stringify({}), T0 + 3_600 * SECOND);
      const rows = sql.db.prepare("SELECT seq FROM mailbox ORDER BY seq").all();
      expect(rows.map((row) => row.seq)).toEqual([4]);
    });
  });

  describe("replay", () => {
    it("answers an empty, complete replay for an empty mailbox", () => {
      const { mailbox } = mailboxWith();
      expect(mailbox.replay(0, T0)).toEqual({ messages: [], fromSeq: 0, toSeq: 0, complete: true });
    });

    it("replays every message after since_seq, in order", () => {
      const { mailbox } = mailboxWith();
      fill(mailbox, 6);
      const result = mailbox.replay(2, T0 + 6 * SECOND);
      expect(result.messages.map((m) => [m.seq, JSON.parse(m.json)])).toEqual([
        [3, { n: 3 }],
        [4, { n: 4 }],
        [5, { n: 5 }],
        [6, { n: 6 }],
      ]);
      expect(result).toMatchObject({ fromSeq: 2, toSeq: 6, complete: true });
    });

    it("says to_seq is the mailbox's last seq when nothing was missed", () => {
      const { mailbox } = mailboxWith();
      fill(mailbox, 4);
      expect(mailbox.replay(4, T0 + 4 * SECOND)).toEqual({
        messages: [],
        fromSeq: 4,
        toSeq: 4,
        complete: true,
      });
    });

    it(`replays at most MAX_REPLAY (${MAX_REPLAY}) messages and resumes from to_seq`, () => {
      const { mailbox } = mailboxWith({ max: 5_000 });
      fill(mailbox, MAX_REPLAY + 5);
      const first = mailbox.replay(0, T0 + 2_000 * SECOND);
      expect(first.messages).toHaveLength(MAX_REPLAY);
      expect(first).toMatchObject({ fromSeq: 0, toSeq: MAX_REPLAY, complete: true });
      expect(first.messages.at(-1)?.seq).toBe(MAX_REPLAY);

      const rest = mailbox.replay(first.toSeq, T0 + 2_000 * SECOND);
      expect(rest.messages.map((m) => m.seq)).toEqual([1_001, 1_002, 1_003, 1_004, 1_005]);
      expect(rest).toMatchObject({ fromSeq: MAX_REPLAY, toSeq: MAX_REPLAY + 5, complete: true });
    });

    it("is incomplete exactly when a message after since_seq was pruned (by count)", () => {
      const { mailbox } = mailboxWith({ max: 3 });
      fill(mailbox, 5); // 1 and 2 pruned
      const now = T0 + 5 * SECOND;
      expect(mailbox.replay(0, now)).toMatchObject({ fromSeq: 0, toSeq: 5, complete: false });
      expect(mailbox.replay(1, now)).toMatchObject({ fromSeq: 1, toSeq: 5, complete: false });
      expect(mailbox.replay(2, now)).toMatchObject({ fromSeq: 2, toSeq: 5, complete: true });
      expect(mailbox.replay(5, now)).toMatchObject({ fromSeq: 5, toSeq: 5, complete: true });
    });

    it("is incomplete exactly when a message after since_seq was pruned (by age)", () => {
      const { mailbox } = mailboxWith({ ttlSeconds: 60 });
      mailbox.append("a", "user_message", JSON.stringify({}), T0);
      mailbox.append("b", "user_message", JSON.stringify({}), T0 + 10 * SECOND);
      mailbox.append("c", "user_message", JSON.stringify({}), T0 + 50 * SECOND);
      const now = T0 + 75 * SECOND; // a and b are over 60 s old, c is 25 s old
      expect(mailbox.replay(0, now)).toMatchObject({ toSeq: 3, complete: false });
      expect(mailbox.replay(1, now)).toMatchObject({ toSeq: 3, complete: false });
      expect(mailbox.replay(2, now)).toMatchObject({ toSeq: 3, complete: true });
      expect(seqs(mailbox, 0, now)).toEqual([3]);
    });

    it("says to_seq is the last seq when everything was pruned and since_seq is older", () => {
      const { mailbox } = mailboxWith({ ttlSeconds: 60 });
      fill(mailbox, 3);
      expect(mailbox.replay(1, T0 + 3_600 * SECOND)).toEqual({
        messages: [],
        fromSeq: 1,
        toSeq: 3,
        complete: false,
      });
    });
  });
});

describe("Mailbox cost per message", () => {
  it("stores a message with one statement, and one more once full", () => {
    const { sql } = mailboxWith();
    const statements: string[] = [];
    const counting = {
      exec: (query: string, ...bindings: Parameters<typeof sql.exec>[1][]) => {
        statements.push(query.trim().split(/\s+/)[0] ?? "");
        return sql.exec(query, ...bindings);
      },
    } as typeof sql;
    const mailbox = new Mailbox(counting, { ...LIMITS, max: 3 });
    mailbox.append("first", "user_message", JSON.stringify({}), T0); // loads the (absent) range, creates the tables
    statements.length = 0;
    mailbox.append("second", "user_message", JSON.stringify({}), T0 + 1);
    mailbox.append("third", "user_message", JSON.stringify({}), T0 + 2);
    expect(statements).toEqual(["INSERT", "INSERT"]);
    statements.length = 0;
    mailbox.append("fourth", "user_message", JSON.stringify({}), T0 + 3);
    expect(statements).toEqual(["INSERT", "DELETE", "SELECT"]);
  });
});

describe("Mailbox indexes", () => {
  const indexes = (sql: TestSql) =>
    sql.db
      .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'mailbox'")
      .all()
      .map((row) => String(row.name));

  it("indexes only the notifications by seq, and the notification quota is pruned through it", () => {
    const { sql, mailbox } = mailboxWith({ notificationsMax: 2 });
    fill(mailbox, 1);
    expect(indexes(sql)).toContain("mailbox_notifications");
    expect(indexes(sql)).not.toContain("mailbox_type_seq");
    const plan = sql.db
      .prepare(
        "EXPLAIN QUERY PLAN SELECT seq FROM mailbox WHERE type = 'notification' ORDER BY seq LIMIT 1",
      )
      .all()
      .map((row) => String(row.detail))
      .join("; ");
    expect(plan).toContain("mailbox_notifications");
    for (const id of ["n1", "n2", "n3"]) {
      mailbox.append(id, "notification", JSON.stringify({ id }), T0 + 10 * SECOND);
    }
    // The direct message stays; the oldest notification went for the third.
    expect(mailbox.replay(0, T0 + 20 * SECOND).messages.map((m) => m.type)).toEqual([
      "user_message",
      "notification",
      "notification",
    ]);
  });

  it("replaces the (type, seq) index of a mailbox made before, keeping every message and seq", () => {
    const sql = memorySql();
    sql.db.exec(`CREATE TABLE mailbox (
      seq INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
      data TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE INDEX mailbox_type_seq ON mailbox (type, seq);
      CREATE TABLE mailbox_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT INTO mailbox VALUES (1, 'a', 'user_message', '{}', ${T0}), (2, 'b', 'notification', '{}', ${T0});`);
    const mailbox = new Mailbox(sql, LIMITS);
    expect(mailbox.append("c", "system_broadcast", "{}", T0 + SECOND).seq).toBe(3);
    expect(indexes(sql)).toContain("mailbox_notifications");
    expect(indexes(sql)).not.toContain("mailbox_type_seq");
    expect(seqs(mailbox, 0, T0 + 2 * SECOND)).toEqual([1, 2, 3]);
  });
});
