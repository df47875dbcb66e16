import { describe, expect, it } from "vitest";
import { MailboxCursor } from "../../../src/sdk/mailbox-cursor.ts";

const frames = (...seqs: number[]) => seqs.map((seq) => ({ seq }));

/** The seqs `run` hands to its deliver callback, in order. */
function delivered(run: (deliver: (f: { seq: number }) => void) => void) {
  const seen: number[] = [];
  run((frame) => seen.push(frame.seq));
  return seen;
}

describe("MailboxCursor", () => {
  it("starts from the server's last seq on a first connect and asks for nothing", () => {
    const cursor = new MailboxCursor();
    expect(cursor.opened(40)).toBeUndefined();
    expect(cursor.lastSeq).toBe(40);
  });

  it("asks to resume after the last seq handled when the server has more", () => {
    const cursor = new MailboxCursor(7);
    expect(cursor.opened(9)).toBe(7);
    expect(new MailboxCursor(7).opened(7)).toBeUndefined();
  });

  it("takes a server seq below its own as a restarted sequence", () => {
    const cursor = new MailboxCursor(50);
    expect(cursor.opened(3)).toBeUndefined();
    expect(cursor.lastSeq).toBe(3);
  });

  it("delivers each seq once and drops those at or below the last one", () => {
    const cursor = new MailboxCursor(0);
    const seen = delivered((deliver) => {
      for (const frame of frames(1, 2, 2, 1, 3, 5, 4)) cursor.accept(frame, deliver);
    });
    expect(seen).toEqual([1, 2, 3, 5]);
    expect(cursor.lastSeq).toBe(5);
  });

  it("holds frames during a resume and releases them in seq order without duplicates", () => {
    const cursor = new MailboxCursor(8);
    const seen = delivered((deliver) => {
      cursor.hold();
      for (const frame of frames(12, 8, 9, 10, 11, 12)) cursor.accept(frame, deliver);
      expect(cursor.lastSeq).toBe(8);
      cursor.release(deliver);
      cursor.accept({ seq: 12 }, deliver);
      cursor.accept({ seq: 13 }, deliver);
    });
    expect(seen).toEqual([9, 10, 11, 12, 13]);
  });
});
