/**
 * Figures over time for the console's charts: a bounded history, and counters turned into
 * rates. No DOM here, so Node tests import it.
 */

/** A bounded history of one figure, oldest first. */
export class Series {
  readonly values: number[] = [];
  private readonly capacity: number;

  constructor(capacity = 60) {
    this.capacity = capacity;
  }

  push(value: number): void {
    this.values.push(value);
    if (this.values.length > this.capacity) this.values.shift();
  }

  get last(): number | undefined {
    return this.values[this.values.length - 1];
  }
}

/**
 * Per-second rate of a counter between two scrapes. A counter that went down was reset (the
 * actors reporting it restarted): its whole new value counts as this interval's.
 */
export function rate(previous: number, current: number, seconds: number): number {
  if (seconds <= 0) return 0;
  return (current >= previous ? current - previous : current) / seconds;
}
