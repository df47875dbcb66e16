/**
 * Work that needs a session (a Postgres connection), served by at most one session at a time.
 * Tasks wait in a queue; each round takes up to `maxBatch` of them, opens one session, runs
 * them one after another in it and closes it, so a crowd of tasks costs a few sessions instead
 * of one each. Each task settles on its own: one failing (a constraint, a bad value) leaves the
 * others in its round alone. A session that cannot be opened is tried again after each of
 * `reopenDelaysMs` (when `retryable` says the error may pass), then fails the tasks of that
 * round, which their callers retry. Runtime-agnostic: no I/O of its own.
 */

/** Opens a session, runs `work` in it and closes it (e.g. `withNeonClient`). */
export type OpenSession<Session> = <T>(work: (session: Session) => Promise<T>) => Promise<T>;

interface Waiting<Session> {
  task: (session: Session) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

export interface SessionQueueOptions<Session> {
  open: OpenSession<Session>;
  /** The most tasks one session serves before it is closed and the next is opened. */
  maxBatch: number;
  /**
   * Waits before opening again when opening failed before any task ran. Default: none (the
   * round fails at the first failed open).
   */
  reopenDelaysMs?: readonly number[];
  /** Whether a failed open may succeed if tried again. Default: always. */
  retryable?: (err: unknown) => boolean;
  /** Told before each wait to open again (for the logs). */
  onReopen?: (err: unknown, attempt: number, delayMs: number) => void;
}

export class SessionQueue<Session> {
  readonly #open: OpenSession<Session>;
  readonly #maxBatch: number;
  readonly #reopenDelaysMs: readonly number[];
  readonly #retryable: (err: unknown) => boolean;
  readonly #onReopen: (err: unknown, attempt: number, delayMs: number) => void;
  #waiting: Waiting<Session>[] = [];
  #draining = false;

  constructor(options: SessionQueueOptions<Session>) {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) {
      throw new RangeError(`maxBatch must be a positive integer, got ${options.maxBatch}`);
    }
    this.#open = options.open;
    this.#maxBatch = options.maxBatch;
    this.#reopenDelaysMs = options.reopenDelaysMs ?? [];
    this.#retryable = options.retryable ?? (() => true);
    this.#onReopen = options.onReopen ?? (() => {});
  }

  /** Tasks not yet started. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `task` in the next session; settles with the task's own result or error. */
  run<T>(task: (session: Session) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#waiting.push({ task, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#draining) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#waiting.length > 0) {
        const round = this.#waiting.splice(0, this.#maxBatch);
        await this.#serve(round);
      }
    } finally {
      this.#draining = false;
    }
  }

  async #serve(round: Waiting<Session>[]): Promise<void> {
    let started = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#open(async (session) => {
          for (const waiting of round) {
            started++;
            try {
              waiting.resolve(await waiting.task(session));
            } catch (err) {
              waiting.reject(err);
            }
          }
        });
        return;
      } catch (err) {
        const delay = this.#reopenDelaysMs[attempt];
        if (started === 0 && delay !== undefined && this.#retryable(err)) {
          this.#onReopen(err, attempt + 1, delay);
          await new Promise((resolve) => setTimeout(resolve, delay));
          continue;
        }
        // The session could not be opened (or closing it threw): the tasks it did not reach
        // fail with that error; the ones it ran have settled already.
        for (const waiting of round.slice(started)) waiting.reject(err);
        return;
      }
    }
  }
}
