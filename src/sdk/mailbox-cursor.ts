/**
 * Exactly once, in order: the client's position in its mailbox sequence (docs/protocol.md: mailbox
 * frames carry a strictly increasing `seq`; `resume { since_seq }` replays what came after).
 *
 * A frame at or below the last seq handled is a duplicate. While a resume is in flight, live
 * frames and replayed frames arrive interleaved; delivering a live seq 12 before the replayed
 * 9-11 would make those look like duplicates, so everything is held until the replay ends and
 * then delivered in seq order.
 */
export class MailboxCursor<F extends { seq: number }> {
  private last: number | undefined;
  private held: F[] | undefined;

  /** `lastSeq`: where an earlier session stopped, if the application kept it. */
  constructor(lastSeq?: number) {
    this.last = lastSeq;
  }

  /** The highest seq handled so far. */
  get lastSeq(): number | undefined {
    return this.last;
  }

  /**
   * A socket opened whose mailbox ends at `serverLastSeq` (from `connection_established`).
   * Returns the `since_seq` to resume from, or undefined when there is nothing to ask for.
   */
  opened(serverLastSeq: number): number | undefined {
    const since = this.last;
    if (since === undefined || serverLastSeq < since) {
      // First connect with no earlier position: start from the present instead of replaying
      // history. A server seq below ours means the sequence started over (mailbox reset).
      this.last = serverLastSeq;
      return undefined;
    }
    return serverLastSeq > since ? since : undefined;
  }

  /** Forgets the position: its sequence was lost (a room history of another epoch). */
  restart(): void {
    this.last = undefined;
  }

  /** Holds frames from now until `release()`. */
  hold(): void {
    this.held = [];
  }

  /** Delivers the frame unless it is a duplicate, or keeps it while holding. */
  accept(frame: F, deliver: (frame: F) => void): void {
    if (this.held) {
      this.held.push(frame);
      return;
    }
    if (this.last !== undefined && frame.seq <= this.last) return;
    this.last = frame.seq;
    deliver(frame);
  }

  /** Stops holding and delivers what was held, in seq order and without duplicates. */
  release(deliver: (frame: F) => void): void {
    const held = this.held ?? [];
    this.held = undefined;
    held.sort((a, b) => a.seq - b.seq);
    for (const frame of held) this.accept(frame, deliver);
  }
}
