import type Database from 'better-sqlite3';

type Db = InstanceType<typeof Database>;

/** What the steps of a transaction leave besides their writes, cut back with a step that rolls back. */
export interface StepJournal<Mark> {
  /** Where the journal stands now. */
  mark(): Mark;
  /** Forgets what was added after `mark`. */
  undo(mark: Mark): void;
  /** Inside the transaction, after its last step and before it commits: writes what the steps left for once per transaction. */
  closing(): void;
  /** The transaction ended, committed or not (after `committed`, when it committed). */
  ended(): void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

interface PendingWrite {
  operation: string;
  body: () => unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Group commit: the write steps asked for in one turn of the event loop run in one SQLite
 * transaction, and a step that throws undoes only itself (see `runAll`). Begin and
 * commit were about half of a worker's time; now a worker that completes one job and claims the
 * next pays for one transaction, and ten jobs ending together pay for one.
 *
 * A step's promise settles only after the transaction that holds it has committed, so a resolved
 * write is as durable as before. If the transaction itself fails (the lock was not had within the
 * busy timeout, the disk is full), every step in it is rejected with that error.
 */
export class GroupCommit<Mark = unknown> {
  private pending: PendingWrite[] = [];
  private scheduled: NodeJS.Immediate | null = null;

  constructor(
    private readonly db: Db,
    private readonly mapError: (err: unknown, operation: string) => Error,
    private readonly committed: () => void,
    private readonly journal: StepJournal<Mark>,
  ) {}

  /** Runs `body` in the next group's transaction; resolves with its value once that has committed. */
  write<T>(operation: string, body: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ operation, body, resolve: resolve as (value: unknown) => void, reject });
      this.scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Commits what is pending now (before the database closes). */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
    const group = this.pending;
    if (group.length === 0) return;
    this.pending = [];
    const start = this.journal.mark();
    let outcomes: Outcome[];
    try {
      outcomes = this.runAll(group);
    } catch (err) {
      this.journal.undo(start);
      this.journal.ended();
      for (const step of group) step.reject(this.mapError(err, step.operation));
      return;
    }
    this.committed();
    this.journal.ended();
    group.forEach((step, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) step.resolve(outcome.value);
      else step.reject(this.mapError(outcome.error, step.operation));
    });
  }

  /**
   * Runs the group in one transaction. First without savepoints, which cost about as much as a
   * page written each: if no step throws, that is the whole of it. If one does, that attempt is
   * rolled back and the group runs again with a savepoint per step, so that only the steps that
   * throw are undone. Throws only what failed the transaction itself (the lock not had in time, a
   * full disk), after which nothing was written.
   */
  private runAll(group: PendingWrite[]): Outcome[] {
    let failedStep = false;
    const start = this.journal.mark();
    try {
      return this.db
        .transaction(() => {
          const outcomes = group.map((step) => {
            try {
              return { ok: true as const, value: step.body() };
            } catch (error) {
              failedStep = true;
              throw error;
            }
          });
          this.journal.closing();
          return outcomes;
        })
        .immediate();
    } catch (error) {
      if (!failedStep) throw error;
      this.journal.undo(start);
      this.journal.ended();
      if (group.length === 1) return [{ ok: false, error }];
    }
    const outcomes: Outcome[] = [];
    this.db
      .transaction(() => {
        for (const step of group) {
          const mark = this.journal.mark();
          try {
            outcomes.push({ ok: true, value: this.db.transaction(step.body)() });
          } catch (error) {
            this.journal.undo(mark);
            outcomes.push({ ok: false, error });
          }
        }
        this.journal.closing();
      })
      .immediate();
    return outcomes;
  }
}
