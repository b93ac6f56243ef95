import type Database from 'better-sqlite3';
import type { JobEvent } from '@skq/core';
import { DEFAULT_RUN_OPTIONS, RetentionSchedule, type JobRunOptions, type RetentionRule } from '@skq/core/backend';
import {
  dueAtPrioritySql,
  insertManySql,
  prepareEndingStatements,
  prepareScheduleStatements,
  prepareStatements,
  type EndingStatements,
  type ScheduleStatements,
  type SqliteStatements,
} from '../sqlite-statements.js';
import { prepareGroupStatements, type GroupStatements } from '../group-statements.js';
import { Tallies } from './tallies.js';

type Db = InstanceType<typeof Database>;

/**
 * What every operation runs against: one connection's statements, prepared once when the backend
 * opens, and the little state kept between writes. An operation takes it as its first argument and
 * runs inside the backend's write (one SQLite transaction, shared by the writes of one event-loop
 * turn) or read wrapper; it never begins or commits a transaction itself.
 */
export interface SqliteStore {
  /** The statements of the job, worker, event, pause, log and call-record operations. */
  readonly stmt: SqliteStatements;
  /** The statements of a delivery's end: job end, retention, throughput. */
  readonly endingStmt: EndingStatements;
  /** The statements of the schedule operations. */
  readonly scheduleStmt: ScheduleStatements;
  /** The statements of groups and limits. */
  readonly groupStmt: GroupStatements;
  /** When each queue's retention rules next trim; kept per connection. */
  readonly retention: RetentionSchedule;
  /** Throughput counts written on this connection: every thousandth also deletes counts past the window. */
  throughputWrites: number;
  /**
   * The events of the open transaction, in seq order: handed to this process's subscribers when it
   * commits (see `EventFeed.committed`), cut back with a step that rolls back.
   */
  readonly recorded: JobEvent[];
  /** The newest change sequence taken in the open write transaction; null outside one (read at its first change). */
  seq: number | null;
  /** The newest change sequence stored when the open write transaction took its first (see {@link nextSeq}). */
  seqBase: number | null;
  /** The state counts and throughput the steps keep, written once per transaction. */
  readonly tallies: Tallies;
  /** The retention of jobs that set none of their own (the backend's `removeOnComplete` and `removeOnFail`). */
  readonly defaultRetention: { removeOnComplete: RetentionRule | null; removeOnFail: RetentionRule | null };
  /** The run options of a job stored with the defaults (options NULL), with the default retention. */
  readonly defaultRunOptions: JobRunOptions;
  /**
   * What a claim on this connection read of the rows it handed out, by delivery id, so that their
   * completion needs no read: a hint, checked by the completing statement (see `complete`).
   */
  readonly held: HeldRows;
  /** The claim's reads of a priority's due rows, by limit, prepared on first use (see `dueAtPrioritySql`). */
  readonly dueAtPriority: Map<number, Database.Statement>;
  prepareDueAtPriority(limit: number): Database.Statement;
  /** Multi-row INSERTs of jobs, by row count, prepared on first use. */
  readonly insertMany: Map<number, Database.Statement>;
  prepareInsertMany(rows: number): Database.Statement;
  /**
   * Gives every free page back to the file system (a file made with auto_vacuum = INCREMENTAL; else
   * nothing). Run by `exec`: a prepared `PRAGMA incremental_vacuum` frees one page per step.
   */
  releaseFreePages(): void;
}

/** Prepares every statement on `db` (the schema is in place by then). */
export function openStore(db: Db, defaultRetention: SqliteStore['defaultRetention']): SqliteStore {
  const stmt = prepareStatements(db);
  const scheduleStmt = prepareScheduleStatements(db);
  const endingStmt = prepareEndingStatements(db);
  return {
    stmt,
    endingStmt,
    scheduleStmt,
    groupStmt: prepareGroupStatements(db),
    retention: new RetentionSchedule(),
    throughputWrites: 0,
    recorded: [],
    seq: null,
    seqBase: null,
    tallies: new Tallies(),
    defaultRetention,
    defaultRunOptions: withDefaultRetention(DEFAULT_RUN_OPTIONS, defaultRetention),
    held: new HeldRows(),
    dueAtPriority: new Map(),
    // Arrays (CLAIMED_COLUMNS, then `k`): building an object per row cost a third of the claim.
    prepareDueAtPriority: (limit) => db.prepare(dueAtPrioritySql(limit)).raw(true),
    insertMany: new Map(),
    prepareInsertMany: (rows) => db.prepare(insertManySql(rows)),
    releaseFreePages: () => db.exec('PRAGMA incremental_vacuum'),
  };
}

/** `options` with the default retention for what it sets none of. */
export function withDefaultRetention(options: JobRunOptions, defaults: SqliteStore['defaultRetention']): JobRunOptions {
  if (options.removeOnComplete && options.removeOnFail) return options;
  return { ...options, removeOnComplete: options.removeOnComplete ?? defaults.removeOnComplete, removeOnFail: options.removeOnFail ?? defaults.removeOnFail };
}

/**
 * The next change sequence, inside a write transaction. The first call of a transaction reads the
 * newest one stored (rows and notices); SQLite's single writer keeps the numbers rising across processes.
 */
export function nextSeq(s: SqliteStore): number {
  return (s.seq = peekSeq(s));
}

/**
 * The change sequence {@link nextSeq} would take, without taking it: for a statement that may change
 * no row. A number taken by a step that rolls back is never stored, and a later transaction may take
 * it again; every number stored is in `s.recorded`.
 */
export function peekSeq(s: SqliteStore): number {
  if (s.seq === null) s.seq = s.seqBase = (s.stmt.maxSeq.get() as { seq: number }).seq;
  return s.seq + 1;
}

/** The write transaction ended (committed or not): the next one reads the sequence again. */
export function transactionEnded(s: SqliteStore): void {
  s.seq = s.seqBase = null;
}

/** A row a claim handed out: its key, its job id and delivery index, and what its end needs. */
export interface HeldRow {
  k: number;
  id: string;
  dix: number;
  route: string;
  fanout: number | null;
  options: string | null;
}

/** Held rows are forgotten past this many (a worker that never reported them): the oldest first. */
const HELD_ROWS_KEPT = 10_000;

/** The rows claims handed out on this connection, by delivery id; at most {@link HELD_ROWS_KEPT}. */
export class HeldRows {
  private readonly rows = new Map<string, HeldRow>();

  add(deliveryId: string, row: HeldRow): void {
    if (this.rows.size >= HELD_ROWS_KEPT) this.rows.delete(this.rows.keys().next().value!);
    this.rows.set(deliveryId, row);
  }

  /** The row of `deliveryId`, forgotten as it is taken. */
  take(deliveryId: string): HeldRow | undefined {
    const row = this.rows.get(deliveryId);
    if (row) this.rows.delete(deliveryId);
    return row;
  }
}
