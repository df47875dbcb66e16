// The accounting every scenario keeps, so that no number is printed from a run that lost,
// duplicated or misrouted a message. Every message body is `bench:<key>`; the ledger knows,
// per key, when it was sent and which bench sockets (by index) must receive it.

export interface Integrity {
  /** Expected deliveries that never arrived. */
  lost: number;
  /** Deliveries of a key a socket had already received. */
  duplicated: number;
  /** Deliveries to a socket that was not a recipient, or of an unknown or wrong-kind body. */
  misrouted: number;
  /** Error frames from the server, failed connects, joins or server-side sends. */
  errors: number;
  /** Sockets the server closed during the scenario. */
  dropped: number;
  /** The first few problems, for the report. */
  samples: string[];
}

export function emptyIntegrity(): Integrity {
  return { lost: 0, duplicated: 0, misrouted: 0, errors: 0, dropped: 0, samples: [] };
}

export function isClean(integrity: Integrity): boolean {
  return (
    integrity.lost === 0 &&
    integrity.duplicated === 0 &&
    integrity.misrouted === 0 &&
    integrity.errors === 0 &&
    integrity.dropped === 0
  );
}

export function addIntegrity(into: Integrity, from: Integrity): void {
  into.lost += from.lost;
  into.duplicated += from.duplicated;
  into.misrouted += from.misrouted;
  into.errors += from.errors;
  into.dropped += from.dropped;
  for (const sample of from.samples) note(into, sample);
}

const MAX_SAMPLES = 8;

export function note(integrity: Integrity, problem: string): void {
  if (integrity.samples.length < MAX_SAMPLES) integrity.samples.push(problem);
}

interface Expectation {
  readonly sentAt: number;
  readonly recipients: ReadonlySet<number>;
  readonly received: Set<number>;
  /** When the last recipient got it (performance.now()), NaN until then. */
  completedAt: number;
}

const PREFIX = "bench:";

export class Ledger {
  readonly integrity: Integrity = emptyIntegrity();
  /** Per-delivery latency, milliseconds. */
  readonly deliveryLatencies: number[] = [];
  /** Per-message time until its last recipient had it, milliseconds. */
  readonly completionLatencies: number[] = [];
  readonly #expectations = new Map<string, Expectation>();
  #deliveries = 0;
  #firstSentAt = Number.NaN;
  #lastDeliveredAt = Number.NaN;
  #pending = 0;
  #waiters: Array<() => void> = [];

  static body(key: string): string {
    return PREFIX + key;
  }

  get deliveries(): number {
    return this.#deliveries;
  }

  /** Expected deliveries not yet received. */
  get pending(): number {
    return this.#pending;
  }

  get firstSentAt(): number {
    return this.#firstSentAt;
  }

  get lastDeliveredAt(): number {
    return this.#lastDeliveredAt;
  }

  expect(key: string, recipients: ReadonlySet<number>, sentAt = performance.now()): void {
    if (this.#expectations.has(key)) throw new Error(`ledger: key ${key} used twice`);
    this.#expectations.set(key, {
      sentAt,
      recipients,
      received: new Set(),
      completedAt: Number.NaN,
    });
    this.#pending += recipients.size;
    if (Number.isNaN(this.#firstSentAt)) this.#firstSentAt = sentAt;
  }

  /** Forget an expectation whose send failed (counted as an error by the caller). */
  cancel(key: string): void {
    const expectation = this.#expectations.get(key);
    if (!expectation) return;
    this.#pending -= expectation.recipients.size - expectation.received.size;
    this.#expectations.delete(key);
    this.#wake();
  }

  /** Records that bench socket `socketIndex` received `body`. */
  receive(socketIndex: number, body: string, at = performance.now()): void {
    const key = body.startsWith(PREFIX) ? body.slice(PREFIX.length) : undefined;
    const expectation = key === undefined ? undefined : this.#expectations.get(key);
    if (!expectation?.recipients.has(socketIndex)) {
      this.integrity.misrouted++;
      note(
        this.integrity,
        `socket #${socketIndex} got ${JSON.stringify(body.slice(0, 60))}, not meant for it`,
      );
      return;
    }
    if (expectation.received.has(socketIndex)) {
      this.integrity.duplicated++;
      note(this.integrity, `socket #${socketIndex} got ${key} twice`);
      return;
    }
    expectation.received.add(socketIndex);
    this.#deliveries++;
    this.#pending--;
    this.#lastDeliveredAt = at;
    this.deliveryLatencies.push(at - expectation.sentAt);
    if (expectation.received.size === expectation.recipients.size) {
      expectation.completedAt = at;
      this.completionLatencies.push(at - expectation.sentAt);
    }
    if (this.#pending === 0) this.#wake();
  }

  /** Time until the last recipient of `key` had it, or NaN if not complete. */
  completion(key: string): number {
    const expectation = this.#expectations.get(key);
    return expectation ? expectation.completedAt - expectation.sentAt : Number.NaN;
  }

  /** Resolves when nothing is pending or after `timeoutMs`; true when drained. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.#pending === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(this.#pending === 0);
      }, timeoutMs);
      const waiter = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#waiters.push(waiter);
    });
  }

  /** Closes the books: everything still pending is lost. */
  settle(): Integrity {
    if (this.#pending > 0) {
      for (const [key, expectation] of this.#expectations) {
        const missing = expectation.recipients.size - expectation.received.size;
        if (missing > 0)
          note(
            this.integrity,
            `${key}: ${missing} of ${expectation.recipients.size} recipients never got it`,
          );
        if (this.integrity.samples.length >= MAX_SAMPLES) break;
      }
      this.integrity.lost += this.#pending;
      this.#pending = 0;
    }
    return this.integrity;
  }

  #wake(): void {
    if (this.#pending !== 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }
}
