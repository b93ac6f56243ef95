import type Database from 'better-sqlite3';

/** One row's pending change: deliveries in a state (skq_counts) or ended in a minute (skq_throughput). */
interface Tally {
  readonly table: 'counts' | 'throughput';
  readonly queue: string;
  readonly route: string;
  /** The state code (counts) or the minute (throughput). */
  readonly slot: number;
  /** The count's change (counts), or the completions (throughput). */
  n: number;
  /** The failures (throughput). */
  failed: number;
  /** Changed in the open transaction (listed in `touched`). */
  touched: boolean;
}

/** A route's tallies: its counts by state, and its throughput of the newest minute it ended deliveries in. */
interface RouteTallies {
  counts: Tally[];
  throughput: Tally | null;
}

/** Where the transaction's changes stood: the length of its log. */
export type TallyMark = number;

/**
 * The counts every step keeps exact (deliveries by queue, route and state; deliveries ended per
 * minute), added up in memory and written once per transaction: a group of twenty steps that each
 * move one delivery writes two or three rows instead of sixty.
 *
 * Each change is applied at once and logged: a step that throws is undone from the log
 * ({@link Tallies.dropStep}), and so are the steps after a {@link Tallies.mark} that is gone back to.
 * They are written by {@link Tallies.write} inside the transaction, just before it commits, and a
 * transaction that fails leaves none ({@link Tallies.clear}). A route's tallies are kept from one
 * transaction to the next, so that counting allocates nothing (a key and an object per change were
 * about a twentieth of a worker's garbage on SQLite).
 *
 * @example
 * ```ts
 * tallies.move('demo', 'email', 0, 1); // one delivery claimed: queued -1, running +1
 * tallies.keepStep();
 * tallies.write(statements); // in the transaction, before COMMIT
 * ```
 */
export class Tallies {
  private readonly routes = new Map<string, Map<string, RouteTallies>>();
  private readonly touched: Tally[] = [];
  // The log of changes, as parallel arrays reused from one transaction to the next.
  private readonly logTally: Tally[] = [];
  private readonly logN: number[] = [];
  private readonly logFailed: number[] = [];
  private logLength = 0;
  private stepStart = 0;

  /** Adds `n` to the count of deliveries of `queue` and `route` in `state` (a code). */
  count(queue: string, route: string | null, state: number, n: number): void {
    if (route === null || n === 0) return;
    const counts = this.routeTallies(queue, route).counts;
    this.add((counts[state] ??= newTally('counts', queue, route, state)), n, 0);
  }

  /** A delivery moved from one state to another (codes). */
  move(queue: string, route: string | null, from: number, to: number): void {
    if (from === to) return;
    this.count(queue, route, from, -1);
    this.count(queue, route, to, 1);
  }

  /** A delivery of `queue` and `route` ended in `minute`. */
  ended(queue: string, route: string, minute: number, outcome: 'succeeded' | 'failed'): void {
    const tallies = this.routeTallies(queue, route);
    // A new minute gets a tally of its own; the one before stays listed in `touched` until it is written.
    if (tallies.throughput?.slot !== minute) tallies.throughput = newTally('throughput', queue, route, minute);
    this.add(tallies.throughput, outcome === 'succeeded' ? 1 : 0, outcome === 'failed' ? 1 : 0);
  }

  /** The running step ended without throwing: its changes stay. */
  keepStep(): void {
    this.stepStart = this.logLength;
  }

  /** The running step threw: its changes are undone (after {@link keepStep}, there are none). */
  dropStep(): void {
    this.undo(this.stepStart);
  }

  /** Where the transaction's tallies stand now. */
  mark(): TallyMark {
    return this.logLength;
  }

  /** Goes back to `mark`: the changes made since are undone. */
  undo(mark: TallyMark): void {
    for (let i = this.logLength - 1; i >= mark; i -= 1) {
      const tally = this.logTally[i]!;
      tally.n -= this.logN[i]!;
      tally.failed -= this.logFailed[i]!;
    }
    this.logLength = this.stepStart = Math.min(this.logLength, mark);
  }

  /** Writes the transaction's tallies, inside it; `counts` and `throughput` add a row's change to what is stored. */
  write(statements: { counts: Database.Statement; throughput: Database.Statement }): void {
    for (const t of this.touched) {
      if (t.table === 'counts' && t.n !== 0) statements.counts.run(t.queue, t.route, t.slot, t.n);
      else if (t.table === 'throughput' && (t.n !== 0 || t.failed !== 0)) statements.throughput.run(t.queue, t.route, t.slot, t.n, t.failed);
    }
    this.clear();
  }

  /** The transaction ended: nothing of it is left to write. */
  clear(): void {
    for (const t of this.touched) {
      t.n = 0;
      t.failed = 0;
      t.touched = false;
    }
    this.touched.length = 0;
    this.logLength = this.stepStart = 0;
  }

  private routeTallies(queue: string, route: string): RouteTallies {
    let routes = this.routes.get(queue);
    if (!routes) this.routes.set(queue, (routes = new Map()));
    let tallies = routes.get(route);
    if (!tallies) routes.set(route, (tallies = { counts: [], throughput: null }));
    return tallies;
  }

  private add(tally: Tally, n: number, failed: number): void {
    tally.n += n;
    tally.failed += failed;
    if (!tally.touched) {
      tally.touched = true;
      this.touched.push(tally);
    }
    const i = this.logLength++;
    this.logTally[i] = tally;
    this.logN[i] = n;
    this.logFailed[i] = failed;
  }
}

function newTally(table: Tally['table'], queue: string, route: string, slot: number): Tally {
  return { table, queue, route, slot, n: 0, failed: 0, touched: false };
}
