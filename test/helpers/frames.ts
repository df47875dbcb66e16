/**
 * A socket's received frames as a queue the test can wait on. Works with any WebSocket-like
 * object (workerd's, Node's global WebSocket, `ws`).
 */
export interface Frame {
  type: string;
  data?: any;
  id?: string | number;
  seq?: number;
  ts?: string;
}

type Waiter = {
  match: (f: Frame) => boolean;
  resolve: (f: Frame) => void;
  reject: (e: Error) => void;
};

export class FrameQueue {
  readonly received: Frame[] = [];
  private pending: Frame[] = [];
  private waiters: Waiter[] = [];
  closed: { code: number; reason: string } | null = null;
  private closeWaiters: ((c: { code: number; reason: string }) => void)[] = [];

  push(raw: string): void {
    const frame = JSON.parse(raw) as Frame;
    this.received.push(frame);
    const index = this.waiters.findIndex((w) => w.match(frame));
    if (index >= 0) {
      const [waiter] = this.waiters.splice(index, 1);
      waiter?.resolve(frame);
    } else {
      this.pending.push(frame);
    }
  }

  close(code: number, reason: string): void {
    this.closed = { code, reason };
    for (const resolve of this.closeWaiters.splice(0)) resolve(this.closed);
  }

  /** The next frame of this type (or matching), consuming it; earlier non-matching frames stay. */
  next(type: string | ((f: Frame) => boolean), timeoutMs = 5_000): Promise<Frame> {
    const match = typeof type === "string" ? (f: Frame) => f.type === type : type;
    const index = this.pending.findIndex(match);
    if (index >= 0) {
      const [frame] = this.pending.splice(index, 1);
      return Promise.resolve(frame as Frame);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { match, resolve, reject };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const label = typeof type === "string" ? type : "matching frame";
        reject(
          new Error(
            `no ${label} within ${timeoutMs} ms; pending: ${JSON.stringify(this.pending.map((f) => f.type))}`,
          ),
        );
      }, timeoutMs);
      waiter.resolve = (f) => {
        clearTimeout(timer);
        resolve(f);
      };
      this.waiters.push(waiter);
    });
  }

  /** Frames received and not yet consumed with next(). */
  unconsumed(type?: string): Frame[] {
    return type === undefined ? [...this.pending] : this.pending.filter((f) => f.type === type);
  }

  waitClosed(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`socket not closed within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.closeWaiters.push((c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `check` returns a truthy value (or throw with the last value seen). */
export async function eventually<T>(
  check: () => Promise<T> | T,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `condition not met within ${timeoutMs} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`,
      );
    await sleep(everyMs);
  }
}
