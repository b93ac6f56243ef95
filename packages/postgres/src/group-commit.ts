import type pg from 'pg';
import { mapPostgresError } from './postgres-errors.js';
import { THROUGHPUT_STRIPES } from './schema.js';
import { completeDirect, completeMany, type Completion, type DirectCompletions } from './operations/lease-holder-writes.js';
import { closeTx, txOn, type PgStore, type PgTx } from './store.js';

/** Deadlocks and serialization failures: the transaction did nothing and runs again, at most this often. */
const RETRIES = 3;
const RETRYABLE = new Set(['40P01', '40001']);
/** The most steps one transaction carries. */
const MAX_GROUP = 256;

interface PendingWrite {
  operation: string;
  body: (t: PgTx) => Promise<unknown>;
  /** Its body writes in one statement (reads may follow) and leaves nothing for the transaction's close: alone, it runs without BEGIN and COMMIT. */
  oneStatement: boolean;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

interface PendingCompletion extends Completion {
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Group commit: the write steps a process asks for while its transactions are busy share the next
 * one. A worker finishing ten jobs while a claim commits pays for one more commit, not ten: its
 * completions are one statement ({@link completeDirect}, its own transaction, which also counts their
 * throughput in one row write, not ten on one row that every transaction would queue on, and
 * publishes their events), and those it leaves (jobs of several deliveries, retention of their own,
 * refusals) one transaction ({@link completeMany}). Completions and the other writes take turns; a
 * claim alone is one statement. At most `concurrency` groups of a process run at once, each counting
 * throughput in a stripe of its own.
 *
 * A step's promise settles once the transaction that holds it has committed, so a resolved write is
 * as durable as a transaction of its own. A completion whose lease did not hold is refused on its own.
 * If a step throws (an id held by another queue), the group rolls back and each step runs again in a
 * transaction of its own, so that only the step at fault fails; if the transaction itself fails (the
 * connection, the commit), every step fails with its error.
 */
export class GroupCommit {
  private pending: PendingWrite[] = [];
  private completions: PendingCompletion[] = [];
  private readonly freeStripes: number[];
  private scheduled = false;
  /** Whether the last group started held completions: with both waiting, they take turns. */
  private lastWereCompletions = false;
  private closed: Error | null = null;

  constructor(
    private readonly store: PgStore,
    concurrency: number,
    /** Where what fails outside a caller's write is reported (a trim after completions). */
    private readonly warn: (message: string, err: unknown) => void,
  ) {
    this.freeStripes = Array.from({ length: concurrency }, (_, i) => (store.stripe + i) % THROUGHPUT_STRIPES);
  }

  /** Runs `body` in the next group's transaction; resolves with its value once that has committed. */
  write<T>(operation: string, body: (t: PgTx) => Promise<T>, options: { oneStatement?: boolean } = {}): Promise<T> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ operation, body, oneStatement: options.oneStatement === true, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Completes a delivery in the next group's transaction, with the group's other completions. */
  complete(completion: Completion): Promise<void> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise<void>((resolve, reject) => {
      this.completions.push({ ...completion, resolve, reject });
      this.schedule();
    });
  }

  /** Fails the steps not yet started with `error` (the backend is closing): none will run. */
  close(error: Error): void {
    this.closed = error;
    for (const one of [...this.pending.splice(0), ...this.completions.splice(0)]) one.reject(error);
  }

  /**
   * Starts the next groups after this turn of the event loop, so that the steps asked for in it share
   * them: completions and other writes in turns, each on a free slot.
   */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.freeStripes.length > 0 && (this.pending.length > 0 || this.completions.length > 0)) {
        const stripe = this.freeStripes.pop()!;
        const completionsNext = this.completions.length > 0 && (this.pending.length === 0 || !this.lastWereCompletions);
        this.lastWereCompletions = completionsNext;
        const started = completionsNext ? this.runCompletions(this.completions.splice(0, MAX_GROUP), stripe) : this.runGroup(this.pending.splice(0, MAX_GROUP), [], stripe);
        void started.finally(() => {
          this.freeStripes.push(stripe);
          if (this.pending.length > 0 || this.completions.length > 0) this.schedule();
        });
      }
    });
  }

  /** Completions: the common ones in one statement per queue (see `completeDirect`), the rest in a transaction. */
  private async runCompletions(completions: PendingCompletion[], stripe: number): Promise<void> {
    const byQueue = new Map<string, PendingCompletion[]>();
    for (const c of completions) byQueue.get(c.queue)?.push(c) ?? byQueue.set(c.queue, [c]);
    const left: PendingCompletion[] = [];
    for (const [queue, ofQueue] of byQueue) {
      let direct: DirectCompletions<PendingCompletion>;
      try {
        direct = await autocommit(this.store, 'complete', (t) => completeDirect(t, queue, ofQueue), stripe);
      } catch (err) {
        // The statement failed, or its outcome is unknown (the connection): its completions fail with it.
        for (const c of ofQueue) c.reject(err);
        continue;
      }
      const rest = new Set(direct.left);
      for (const c of ofQueue) if (!rest.has(c)) c.resolve();
      left.push(...direct.left);
      const { upkeep } = direct;
      if (upkeep) await autocommit(this.store, 'trim', upkeep, stripe).catch((err: unknown) => this.warn(`could not trim the ended jobs of queue "${queue}" (the next trim will)`, err));
    }
    if (left.length > 0) await this.runGroup([], left, stripe);
  }

  private async runGroup(group: PendingWrite[], completions: PendingCompletion[], stripe: number): Promise<void> {
    const [only] = group;
    if (only && group.length === 1 && completions.length === 0 && only.oneStatement) {
      await autocommit(this.store, only.operation, only.body, stripe).then(only.resolve, only.reject);
      return;
    }
    let stepFailed = false;
    try {
      const [refusals, values] = await transaction(this.store, 'write', stripe, async (t) => {
        try {
          const refused = completions.length ? await completeMany(t, completions) : [];
          const out: unknown[] = [];
          for (const step of group) out.push(await step.body(t));
          return [refused, out] as const;
        } catch (err) {
          stepFailed = true;
          throw err;
        }
      });
      completions.forEach((c, i) => (refusals[i] ? c.reject(refusals[i]) : c.resolve()));
      group.forEach((step, i) => step.resolve(values[i]));
      return;
    } catch (err) {
      // The transaction failed (the connection, the commit, whose outcome may be unknown): every step fails
      // with it, as a step of its own would; running them again could store them twice. A lone step's
      // failure is its own too. Only when a step threw are the others run again, each alone.
      if (!stepFailed || group.length + completions.length === 1) {
        for (const one of [...group, ...completions]) one.reject(err);
        return;
      }
    }
    for (const c of completions) await transaction(this.store, 'complete', stripe, (t) => completeMany(t, [c])).then(([refused]) => (refused ? c.reject(refused) : c.resolve()), c.reject);
    for (const step of group) await transaction(this.store, step.operation, stripe, step.body).then(step.resolve, step.reject);
  }
}

/**
 * Runs `body` in a transaction of its own on a pooled connection: BEGIN, the body, what closes it
 * (throughput, events: see `closeTx`), COMMIT. A deadlock or serialization failure runs it again;
 * anything else rolls back and is mapped to a {@link SkqError} once, here.
 */
export async function transaction<T>(store: PgStore, operation: string, stripe: number, body: (t: PgTx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    const client = await connect(store, operation);
    let broken: Error | undefined;
    // A connection lost between two statements is reported as an 'error' event, not by a statement:
    // kept here (the next statement fails with it), never left unhandled.
    const lost = (err: Error) => (broken = err);
    client.on('error', lost);
    try {
      // Claims, dedupe and the lease checks rely on READ COMMITTED: each statement sees what committed before it.
      await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      const t = txOn(store, client, stripe);
      const value = await body(t);
      await closeTx(t);
      // COMMIT of a transaction that failed unnoticed answers ROLLBACK, not an error.
      if ((await client.query('COMMIT')).command === 'ROLLBACK') throw new Error('the transaction was rolled back at COMMIT');
      for (const queue of t.listed) store.listedQueues.add(queue);
      return value;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackFailed: Error) => (broken = rollbackFailed));
      const code = (err as { code?: unknown }).code;
      if (attempt < RETRIES && typeof code === 'string' && RETRYABLE.has(code) && !broken) continue;
      throw mapPostgresError(err, operation);
    } finally {
      client.off('error', lost);
      client.release(broken);
    }
  }
}

/**
 * Runs `body`'s statements on a pooled connection, each its own transaction: reads, and writes made in
 * one statement (a claim, a batch of completions, a single enqueue).
 */
export async function autocommit<T>(store: PgStore, operation: string, body: (t: PgTx) => Promise<T>, stripe?: number): Promise<T> {
  const client = await connect(store, operation);
  let broken: Error | undefined;
  const lost = (err: Error) => (broken = err);
  client.on('error', lost);
  try {
    return await body(txOn(store, client, stripe, true));
  } catch (err) {
    throw mapPostgresError(err, operation);
  } finally {
    client.off('error', lost);
    client.release(broken);
  }
}

async function connect(store: PgStore, operation: string): Promise<pg.PoolClient> {
  try {
    return await store.pool.connect();
  } catch (err) {
    throw mapPostgresError(err, operation);
  }
}
