import type Database from 'better-sqlite3';
import type { JobEvent } from '@skq/core';
import { RetentionSchedule } from '@skq/core/backend';
import {
  prepareEndingStatements,
  prepareScheduleStatements,
  prepareStatements,
  type EndingStatements,
  type ScheduleStatements,
  type SqliteStatements,
} from '../sqlite-statements.js';

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
  /** When each queue's retention rules next trim; kept per connection. */
  readonly retention: RetentionSchedule;
  /** Throughput counts written on this connection: every thousandth also deletes counts past the window. */
  throughputWrites: number;
  /**
   * The events written by the open transaction, in seq order: handed to this process's subscribers
   * when it commits (see `EventFeed.committed`), cut back with a step that rolls back.
   */
  readonly recorded: JobEvent[];
}

/** Prepares every statement on `db` (the schema is in place by then). */
export function openStore(db: Db): SqliteStore {
  const stmt = prepareStatements(db);
  const scheduleStmt = prepareScheduleStatements(db);
  const endingStmt = prepareEndingStatements(db);
  return { stmt, endingStmt, scheduleStmt, retention: new RetentionSchedule(), throughputWrites: 0, recorded: [] };
}
