import type Database from 'better-sqlite3';

/** One row's pending change: deliveries in a state (skq_counts) or ended in a minute (skq_throughput). */
interface Tally {
  table: 'counts' | 'throughput';
  queue: string;
  route: string;
  /** The state code (counts) or the minute (throughput). */
  slot: number;
  /** The count's change (counts), or the completions (throughput). */
  n: number;
  /** The failures (throughput). */
  failed: number;
}

/** A copy of the transaction's tallies, to go back to when a step is undone. */
export type TallyMark = Map<string, Tally>;

/**
 * The counts every step keeps exact (deliveries by queue, route and state; deliveries ended per
 * minute), added up in memory and written once per transaction: a group of twenty steps that each
 * move one delivery writes two or three rows instead of sixty.
 *
 * A step's changes join the transaction's only when the step ends without throwing
 * ({@link Tallies.keepStep}); a step undone after that goes back to a {@link Tallies.mark}. They
 * are written by {@link Tallies.write} inside the transaction, just before it commits, and a
 * transaction that fails leaves none ({@link Tallies.clear}).
 *
 * @example
 * ```ts
 * tallies.move('demo', 'email', 0, 1); // one delivery claimed: queued -1, running +1
 * tallies.keepStep();
 * tallies.write(statements); // in the transaction, before COMMIT
 * ```
 */
export class Tallies {
  private step = new Map<string, Tally>();
  private transaction = new Map<string, Tally>();

  /** Adds `n` to the count of deliveries of `queue` and `route` in `state` (a code). */
  count(queue: string, route: string | null, state: number, n: number): void {
    if (route === null || n === 0) return;
    this.add('counts', queue, route, state, n, 0);
  }

  /** A delivery moved from one state to another (codes). */
  move(queue: string, route: string | null, from: number, to: number): void {
    if (from === to) return;
    this.count(queue, route, from, -1);
    this.count(queue, route, to, 1);
  }

  /** A delivery of `queue` and `route` ended in `minute`. */
  ended(queue: string, route: string, minute: number, outcome: 'succeeded' | 'failed'): void {
    this.add('throughput', queue, route, minute, outcome === 'succeeded' ? 1 : 0, outcome === 'failed' ? 1 : 0);
  }

  /** The running step ended without throwing: its changes join the transaction's. */
  keepStep(): void {
    for (const [key, tally] of this.step) {
      const kept = this.transaction.get(key);
      if (!kept) this.transaction.set(key, tally);
      else {
        kept.n += tally.n;
        kept.failed += tally.failed;
      }
    }
    this.step.clear();
  }

  /** The running step threw: its changes are dropped. */
  dropStep(): void {
    this.step.clear();
  }

  /** Where the transaction's tallies stand now. */
  mark(): TallyMark {
    return new Map([...this.transaction].map(([key, tally]) => [key, { ...tally }]));
  }

  /** Goes back to `mark`: the steps kept since were undone. */
  undo(mark: TallyMark): void {
    this.transaction = mark;
  }

  /** Writes the transaction's tallies, inside it; `counts` and `throughput` add a row's change to what is stored. */
  write(statements: { counts: Database.Statement; throughput: Database.Statement }): void {
    for (const t of this.transaction.values()) {
      if (t.table === 'counts' && t.n !== 0) statements.counts.run(t.queue, t.route, t.slot, t.n);
      else if (t.table === 'throughput') statements.throughput.run(t.queue, t.route, t.slot, t.n, t.failed);
    }
    this.transaction.clear();
  }

  /** The transaction ended: nothing of it is left to write. */
  clear(): void {
    this.step.clear();
    this.transaction.clear();
  }

  private add(table: Tally['table'], queue: string, route: string, slot: number, n: number, failed: number): void {
    const key = `${table}\u0000${queue}\u0000${route}\u0000${slot}`;
    const tally = this.step.get(key);
    if (!tally) this.step.set(key, { table, queue, route, slot, n, failed });
    else {
      tally.n += n;
      tally.failed += failed;
    }
  }
}
