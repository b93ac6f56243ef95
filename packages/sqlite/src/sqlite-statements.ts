import type Database from 'better-sqlite3';
import { WHOLE_QUEUE } from '@skq/core';
import { deliveryOfJob } from './schema.js';

type Db = InstanceType<typeof Database>;

/** The SQL of every statement the backend runs. */
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
  claimAtPriority: `UPDATE skq_deliveries
    SET state = 'running', worker_id = @worker, lease_until = @lease_until, attempts = attempts + 1, started_at = @now, cancel_requested = 0
    WHERE rowid IN (
      SELECT rowid FROM skq_deliveries
      WHERE queue = @queue AND route = @route AND state = 'queued' AND priority = @priority AND run_at <= @now
        AND (target_worker IS NULL OR target_worker = @worker)
      ORDER BY run_at ASC, rowid ASC
      LIMIT @limit)
    RETURNING *, rowid AS seq`,
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
  eventsBetween: 'SELECT * FROM skq_events WHERE seq > ? AND seq <= ? AND queue = ? ORDER BY seq LIMIT ?',
  eventsOfTypesBetween: 'SELECT * FROM skq_events WHERE seq > ? AND seq <= ? AND queue = ? AND type IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?',
  // Events are in seq order and nearly in time order: cut at the first one young enough to keep.
  trimEvents: `DELETE FROM skq_events WHERE seq < (SELECT MAX(seq) FROM skq_events) AND seq < MAX(
      COALESCE((SELECT seq FROM skq_events WHERE at >= @before ORDER BY seq LIMIT 1), (SELECT IFNULL(MAX(seq), 0) + 1 FROM skq_events)),
      (SELECT IFNULL(MAX(seq), 0) FROM skq_events) - @keep + 1)`,
};

/** The backend's prepared statements, by name. */
export type SqliteStatements = Record<keyof typeof SQL, Database.Statement>;

/** Prepares every statement the backend runs, once per connection (the schema is in place by then). */
export function prepareStatements(db: Db): SqliteStatements {
  return Object.fromEntries(Object.entries(SQL).map(([name, sql]) => [name, db.prepare(sql)])) as SqliteStatements;
}
