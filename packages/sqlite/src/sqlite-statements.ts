import type Database from 'better-sqlite3';
import { WHOLE_QUEUE } from '@skq/core/backend';
import { deliveryOfJob } from './schema.js';

type Db = InstanceType<typeof Database>;

/** The SQL of the job, worker, event, pause, log and call-record operations (`operations/`), by statement name. */
const SQL = {
  insertJob: `INSERT INTO skq_jobs (id, queue, name, args, routes, type, priority, created_at, options, dedupe_key, empty_state)
    VALUES (@id, @queue, @name, @args, @routes, @type, @priority, @created_at, @options, @dedupe_key, @empty_state)
    ON CONFLICT (id) DO NOTHING`,
  insertDelivery: `INSERT INTO skq_deliveries (id, job_id, queue, route, target_worker, state, priority, run_at, attempts, max_attempts, recoveries, cancel_requested)
    VALUES (@id, @job_id, @queue, @route, @target_worker, @state, @priority, @run_at, @attempts, @max_attempts, @recoveries, @cancel_requested)`,
  findPendingByDedupe: `SELECT j.id FROM skq_jobs j WHERE j.queue = ? AND j.dedupe_key = ?
    AND EXISTS (SELECT 1 FROM skq_deliveries d WHERE ${deliveryOfJob('j.id', 'd')} AND d.state IN ('queued', 'running')) LIMIT 1`,
  // Claims walk the queued index one priority at a time (queuedPriorities, a skip scan): within one
  // priority the due deliveries come first in run_at order, so a claim stops at its limit or at the
  // first future run_at instead of reading every delayed delivery behind the due ones.
  queuedPriorities: `WITH RECURSIVE p(priority) AS (
      SELECT MAX(priority) FROM skq_deliveries WHERE queue = @queue AND route = @route AND state = 'queued'
      UNION ALL
      SELECT (SELECT MAX(priority) FROM skq_deliveries WHERE queue = @queue AND route = @route AND state = 'queued' AND priority < p.priority)
      FROM p WHERE p.priority IS NOT NULL)
    SELECT priority FROM p WHERE priority IS NOT NULL`,
  // One delivery per statement, found by a scalar subquery: `rowid IN (subquery)` made SQLite collect
  // the rowids first, which cost about 60 µs per claim more than one statement per delivery does.
  claimAtPriority: `UPDATE skq_deliveries
    SET state = 'running', worker_id = @worker, lease_until = @lease_until, attempts = attempts + 1, started_at = @now, cancel_requested = 0
    WHERE rowid = (
      SELECT rowid FROM skq_deliveries
      WHERE queue = @queue AND route = @route AND state = 'queued' AND priority = @priority AND run_at <= @now
        AND (target_worker IS NULL OR target_worker = @worker)
      ORDER BY run_at ASC, rowid ASC
      LIMIT 1)
    RETURNING *`,
  deliveryCount: `SELECT j.queue, (SELECT COUNT(*) FROM skq_deliveries d WHERE ${deliveryOfJob('j.id', 'd')}) AS n FROM skq_jobs j WHERE j.id = ?`,
  jobForRun: 'SELECT name, args, options FROM skq_jobs WHERE id = ?',
  // The queued index orders by priority, then run_at: walk its distinct priorities (a skip scan, few
  // in practice) and take the first future run_at of each, instead of scanning every delayed delivery.
  nextRunAt: `WITH RECURSIVE p(priority) AS (
      SELECT MAX(priority) FROM skq_deliveries WHERE queue = @queue AND route = @route AND state = 'queued'
      UNION ALL
      SELECT (SELECT MAX(priority) FROM skq_deliveries WHERE queue = @queue AND route = @route AND state = 'queued' AND priority < p.priority)
      FROM p WHERE p.priority IS NOT NULL)
    SELECT MIN((SELECT run_at FROM skq_deliveries
        WHERE queue = @queue AND route = @route AND state = 'queued' AND priority = p.priority AND run_at > @now
          AND (target_worker IS NULL OR target_worker = @worker)
        ORDER BY run_at LIMIT 1)) AS run_at
    FROM p WHERE p.priority IS NOT NULL`,
  delivery: 'SELECT * FROM skq_deliveries WHERE id = ?',
  finish: `UPDATE skq_deliveries SET state = @state, finished_at = @now, lease_until = NULL, result = @result, error = @error WHERE id = @id`,
  requeue: `UPDATE skq_deliveries SET state = 'queued', run_at = @run_at, lease_until = NULL, error = @error WHERE id = @id`,
  extend: `UPDATE skq_deliveries SET lease_until = ? WHERE id = ? AND worker_id = ? AND attempts = ? AND state = 'running'`,
  expired: `SELECT * FROM skq_deliveries WHERE queue = ? AND state = 'running' AND lease_until < ?`,
  /** Queued broadcast deliveries whose worker has no live registration (the addressed index). */
  orphaned: `SELECT * FROM skq_deliveries d WHERE d.queue = @queue AND d.target_worker IS NOT NULL AND d.state = 'queued'
    AND NOT EXISTS (SELECT 1 FROM skq_workers w WHERE w.id = d.target_worker AND w.queue = @queue AND w.expires_at >= @now) LIMIT 500`,
  recover: `UPDATE skq_deliveries SET state = 'queued', run_at = ?, lease_until = NULL, recoveries = recoveries + 1 WHERE id = ?`,
  openDeliveries: `SELECT * FROM skq_deliveries WHERE ${deliveryOfJob('@job')} AND queue = @queue AND state IN ('queued', 'running')`,
  requestCancel: 'UPDATE skq_deliveries SET cancel_requested = 1 WHERE id = ?',
  queuedOf: `SELECT * FROM skq_deliveries WHERE ${deliveryOfJob('@job')} AND queue = @queue AND state = 'queued'`,
  setRunAt: 'UPDATE skq_deliveries SET run_at = ? WHERE id = ?',
  job: 'SELECT * FROM skq_jobs WHERE id = ? AND queue = ?',
  deliveriesOf: `SELECT * FROM skq_deliveries WHERE ${deliveryOfJob('@job')} ORDER BY rowid`,
  jobsNewest: 'SELECT * FROM skq_jobs WHERE queue = ? ORDER BY created_at DESC, id DESC LIMIT ?',
  jobsAfter: `SELECT * FROM skq_jobs WHERE queue = @queue AND (created_at < @created_at OR (created_at = @created_at AND id < @id))
    ORDER BY created_at DESC, id DESC LIMIT @limit`,
  endedBadOf: `SELECT * FROM skq_deliveries WHERE ${deliveryOfJob('@job')} AND queue = @queue AND state IN ('failed', 'cancelled')`,
  retry: `UPDATE skq_deliveries SET state = 'queued', run_at = @run_at, max_attempts = attempts - recoveries + @attempts, worker_id = NULL,
    lease_until = NULL, finished_at = NULL, result = NULL, error = NULL, cancel_requested = 0 WHERE id = @id`,
  removable: `SELECT (SELECT COUNT(*) FROM skq_deliveries d WHERE ${deliveryOfJob('j.id', 'd')} AND d.state = 'running') AS running FROM skq_jobs j WHERE j.id = ? AND j.queue = ?`,
  setProgress: 'UPDATE skq_deliveries SET progress = ? WHERE id = ?',
  isPaused: `SELECT 1 FROM skq_paused WHERE queue = ? AND route IN (?, '${WHOLE_QUEUE}')`,
  pause: 'INSERT OR IGNORE INTO skq_paused (queue, route, since) VALUES (?, ?, ?)',
  unpause: 'DELETE FROM skq_paused WHERE queue = ? AND route = ?',
  pausedOf: 'SELECT route FROM skq_paused WHERE queue = ? ORDER BY route',
  insertCallRecord: 'INSERT INTO skq_call_records (queue, name, at, record) VALUES (?, ?, ?, ?)',
  callRecords: 'SELECT record FROM skq_call_records WHERE queue = ? ORDER BY seq DESC LIMIT ?',
  callRecordsNamed: 'SELECT record FROM skq_call_records WHERE queue = ? AND name = ? ORDER BY seq DESC LIMIT ?',
  counts: 'SELECT route, state, n FROM skq_state_counts WHERE queue = ? AND n > 0',
  scheduledCounts: `SELECT route, COUNT(*) AS n FROM skq_deliveries WHERE queue = ? AND state = 'queued' AND run_at > ? GROUP BY route`,
  // Jobs are walked by the listing index one queue at a time (a skip scan), not row by row.
  queueNames: `WITH RECURSIVE q(name) AS (
      SELECT MIN(queue) FROM skq_jobs
      UNION ALL SELECT (SELECT MIN(queue) FROM skq_jobs WHERE queue > q.name) FROM q WHERE q.name IS NOT NULL)
    SELECT name AS queue FROM q WHERE name IS NOT NULL
    UNION SELECT queue FROM skq_workers UNION SELECT queue FROM skq_schedules ORDER BY 1`,
  insertLog: 'INSERT INTO skq_logs (job_id, delivery_id, at, stream, line) VALUES (?, ?, ?, ?, ?)',
  logsOf: 'SELECT delivery_id, at, stream, line FROM skq_logs WHERE job_id = ? ORDER BY id',
  upsertWorker: `INSERT INTO skq_workers (id, queue, routes, hostname, pid, started_at, last_seen_at, expires_at)
    VALUES (@id, @queue, @routes, @hostname, @pid, @started_at, @now, @expires_at)
    ON CONFLICT (id) DO UPDATE SET routes = excluded.routes, last_seen_at = excluded.last_seen_at, expires_at = excluded.expires_at, state = 'running'`,
  liveWorker: 'SELECT * FROM skq_workers WHERE id = ? AND queue = ? AND expires_at >= ?',
  heartbeat: `UPDATE skq_workers SET last_seen_at = @now, expires_at = @expires_at, state = @state, running_job_ids = @running, command = @command WHERE id = @id`,
  setCommand: 'UPDATE skq_workers SET command = ? WHERE id = ? AND queue = ? AND expires_at >= ?',
  deleteWorker: 'DELETE FROM skq_workers WHERE id = ?',
  liveWorkers: 'SELECT * FROM skq_workers WHERE queue = ? AND expires_at >= ? ORDER BY started_at, id',
  insertEvent: 'INSERT INTO skq_events (queue, type, job_id, delivery_id, route, worker_id, at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  maxSeq: 'SELECT MAX(seq) AS seq FROM skq_events',
  dataVersion: 'PRAGMA data_version',
  eventsBetween: 'SELECT * FROM skq_events WHERE seq > ? AND seq <= ? AND queue = ? ORDER BY seq LIMIT ?',
  eventsOfTypesBetween: 'SELECT * FROM skq_events WHERE seq > ? AND seq <= ? AND queue = ? AND type IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?',
  // Events are in seq order and nearly in time order: cut at the first one young enough to keep.
  trimEvents: `DELETE FROM skq_events WHERE seq < (SELECT MAX(seq) FROM skq_events) AND seq < MAX(
      COALESCE((SELECT seq FROM skq_events WHERE at >= @before ORDER BY seq LIMIT 1), (SELECT IFNULL(MAX(seq), 0) + 1 FROM skq_events)),
      (SELECT IFNULL(MAX(seq), 0) FROM skq_events) - @keep + 1)`,
};

/** These statements, prepared, by name. */
export type SqliteStatements = Record<keyof typeof SQL, Database.Statement>;

/** Prepares these statements, once per connection (the schema is in place by then). */
export function prepareStatements(db: Db): SqliteStatements {
  return Object.fromEntries(Object.entries(SQL).map(([name, sql]) => [name, db.prepare(sql)])) as SqliteStatements;
}

/** The SQL of a delivery's end (`operations/job-endings.ts`), by statement name. */
const ENDING_SQL = {
  endingOf: `SELECT j.options,
        (SELECT COUNT(*) FROM skq_deliveries d WHERE ${deliveryOfJob('j.id', 'd')} AND d.state IN ('queued', 'running')) AS open,
        (SELECT COUNT(*) FROM skq_deliveries d WHERE ${deliveryOfJob('j.id', 'd')} AND d.state IN ('failed', 'cancelled')) AS bad
      FROM skq_jobs j WHERE j.id = ?`,
  markEnded: 'UPDATE skq_jobs SET ended_at = ?, ended_kind = ? WHERE id = ?',
  endedBefore: 'SELECT id FROM skq_jobs WHERE queue = ? AND ended_kind = ? AND ended_at < ? LIMIT ?',
  endedBeyond: 'SELECT id FROM skq_jobs WHERE queue = ? AND ended_kind = ? ORDER BY ended_at DESC LIMIT ? OFFSET ?',
  deleteDeliveries: `DELETE FROM skq_deliveries WHERE ${deliveryOfJob('@job')}`,
  deleteLogs: 'DELETE FROM skq_logs WHERE job_id = ?',
  deleteJob: 'DELETE FROM skq_jobs WHERE id = ?',
  countEnding: `INSERT INTO skq_throughput (queue, route, minute, completed, failed) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (queue, minute, route) DO UPDATE SET completed = completed + excluded.completed, failed = failed + excluded.failed`,
  trimThroughput: 'DELETE FROM skq_throughput WHERE minute < ?',
  throughputSince: 'SELECT minute, route, completed, failed FROM skq_throughput WHERE queue = ? AND minute >= ? ORDER BY minute, route',
};

/** The statements of a delivery's end, by name. */
export type EndingStatements = Record<keyof typeof ENDING_SQL, Database.Statement>;

/** Prepares the statements of a delivery's end, once per connection. */
export function prepareEndingStatements(db: Db): EndingStatements {
  return Object.fromEntries(Object.entries(ENDING_SQL).map(([name, sql]) => [name, db.prepare(sql)])) as EndingStatements;
}

/** The SQL of the schedule operations (`operations/schedules.ts`), by statement name. */
const SCHEDULE_SQL = {
  get: 'SELECT * FROM skq_schedules WHERE queue = ? AND id = ?',
  list: 'SELECT * FROM skq_schedules WHERE queue = ? ORDER BY id',
  insert: `INSERT INTO skq_schedules (queue, id, definition, state, next_run_at, created_at, updated_at)
      VALUES (@queue, @id, @definition, @state, @next_run_at, @now, @now)`,
  redefine: `UPDATE skq_schedules SET definition = @definition, state = @state, next_run_at = @next_run_at, waiting_job_id = NULL,
      version = version + 1, updated_at = @now WHERE queue = @queue AND id = @id`,
  pause: 'UPDATE skq_schedules SET paused = ?, version = version + 1, updated_at = ? WHERE queue = ? AND id = ?',
  remove: 'DELETE FROM skq_schedules WHERE queue = ? AND id = ?',
  fire: `UPDATE skq_schedules SET next_run_at = @next_run_at, waiting_job_id = @waiting_job_id, fired_count = fired_count + 1,
      last_fired_at = @fired_at, last_job_id = @job_id, version = version + 1, updated_at = @fired_at
      WHERE queue = @queue AND id = @id AND version = @version AND paused = 0`,
  advance: `UPDATE skq_schedules SET next_run_at = @next_run_at, state = @state, waiting_job_id = NULL, version = version + 1, updated_at = @now
      WHERE queue = @queue AND id = @id AND version = @version`,
};

/** The schedule statements, by name. */
export type ScheduleStatements = Record<keyof typeof SCHEDULE_SQL, Database.Statement>;

/** Prepares the schedule statements, once per connection. */
export function prepareScheduleStatements(db: Db): ScheduleStatements {
  return Object.fromEntries(Object.entries(SCHEDULE_SQL).map(([name, sql]) => [name, db.prepare(sql)])) as ScheduleStatements;
}
