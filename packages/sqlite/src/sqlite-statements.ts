import type Database from 'better-sqlite3';
import { WHOLE_QUEUE } from '@skq/core/backend';

type Db = InstanceType<typeof Database>;

/** The columns a delivery is read back with (see `toDelivery`). */
export const DELIVERY_COLUMNS =
  'id, dix, queue, route, target_worker, state, priority, run_at, attempts, max_attempts, recoveries, worker_id, lease_until, started_at, finished_at, outcome, progress, cancel_requested';
/** A job's header, as each of its rows repeats it. */
const HEADER_COLUMNS = 'name, args, routes, broadcast, fanout, created_at, options, dedupe_key, grp';
/**
 * What a claim reads back, in this order (the statement answers arrays: no object per row): what the
 * worker needs and the claim did not set itself (state, holder, lease and start are the claim's own).
 */
export const CLAIMED_COLUMNS = [
  'id', 'dix', 'target_worker', 'priority', 'run_at', 'attempts', 'max_attempts', 'recoveries', 'finished_at', 'outcome', 'progress',
  'cancel_requested', 'name', 'args', 'options', 'fanout', 'grp',
] as const;
/** What a lease holder's write reads back to check the lease and record the end. */
const LEASE_COLUMNS = 'k, queue, route, state, worker_id, attempts, recoveries, cancel_requested, fanout, options, grp';

/** The columns a new row is inserted with, in the order of {@link insertManySql}'s parameters. */
export const INSERT_COLUMNS = [
  'id', 'dix', 'queue', 'route', 'target_worker', 'name', 'args', 'routes', 'broadcast', 'fanout', 'priority', 'created_at',
  'options', 'dedupe_key', 'state', 'run_at', 'max_attempts', 'ended_at', 'ended_bad', 'seq', 'ev', 'grp',
] as const;

/** One INSERT of `rows` new rows, positional parameters row by row; a stored id is skipped. */
export function insertManySql(rows: number): string {
  const row = `(${INSERT_COLUMNS.map(() => '?').join(', ')})`;
  return `INSERT INTO skq_jobs (${INSERT_COLUMNS.join(', ')}) VALUES ${Array(rows).fill(row).join(', ')} ON CONFLICT (id, dix) DO NOTHING`;
}

/**
 * A priority's due rows in claim order, at most `limit`, with what the worker needs (CLAIMED_COLUMNS, then
 * `k`); the claim then sets each running by its key. Reading them with the UPDATE's RETURNING cost about half
 * as much again per row (9 µs against 6.9 in bare better-sqlite3, claims of 32). The limit is written into the
 * SQL, a statement per limit: bound as a parameter it cost about 30 µs more per call (39 µs against 6 for one row).
 */
export function dueAtPrioritySql(limit: number): string {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`a claim's limit is a positive integer, not ${limit}`);
  return `SELECT ${CLAIMED_COLUMNS.join(', ')}, k FROM skq_jobs
    WHERE queue = @queue AND route = @route AND state = 0 AND grp IS NULL AND priority = @priority AND run_at <= @now
      AND (target_worker IS NULL OR target_worker = @worker)
    ORDER BY run_at ASC, k ASC
    LIMIT ${limit}`;
}

/** The SQL of the job, worker, event, pause, log and call-record operations (`operations/`), by statement name. */
/** What a completion sets (positional: now, outcome, seq, now, now); a job of one row ends with it. */
const COMPLETED_SET = `SET state = 2, finished_at = ?, lease_until = NULL, outcome = ?, seq = ?, ev = 2, ev_at = ?,
      ended_at = CASE WHEN fanout IS NULL THEN ? END, ended_bad = CASE WHEN fanout IS NULL THEN 0 END`;

const SQL = {
  // The change sequence goes on across processes: each write transaction holds SQLite's write lock
  // and starts from the newest sequence stored, in a row or a notice (both read from an index's edge).
  maxSeq: 'SELECT MAX(IFNULL((SELECT MAX(seq) FROM skq_jobs), 0), IFNULL((SELECT MAX(seq) FROM skq_events), 0)) AS seq',
  newestSeqs: 'SELECT IFNULL((SELECT MAX(seq) FROM skq_jobs), 0) AS rows, IFNULL((SELECT MAX(seq) FROM skq_events), 0) AS notices',
  insertRow: `INSERT INTO skq_jobs (${INSERT_COLUMNS.join(', ')}) VALUES (${INSERT_COLUMNS.map((c) => `@${c}`).join(', ')}) ON CONFLICT (id, dix) DO NOTHING`,
  // The first rows of jobs (a JSON array of ids) with their change sequence: which of an INSERT's ids were stored before it.
  seqsOfFirstRows: 'SELECT id, seq FROM skq_jobs WHERE id IN (SELECT value FROM json_each(?)) AND dix = 0',
  storedJob: 'SELECT queue, COUNT(*) FILTER (WHERE dix >= 0) AS n FROM skq_jobs WHERE id = ?',
  findPendingByDedupe: 'SELECT id FROM skq_jobs WHERE queue = ? AND dedupe_key = ? AND state IN (0, 1) LIMIT 1',
  // Claims walk the queued index one priority at a time (a skip scan): within one priority the due
  // rows come first in run_at order, so a claim stops at its limit or at the first future run_at.
  queuedPriorities: `WITH RECURSIVE p(priority) AS (
      SELECT MAX(priority) FROM skq_jobs WHERE queue = @queue AND route = @route AND state = 0 AND grp IS NULL
      UNION ALL
      SELECT (SELECT MAX(priority) FROM skq_jobs WHERE queue = @queue AND route = @route AND state = 0 AND grp IS NULL AND priority < p.priority)
      FROM p WHERE p.priority IS NOT NULL)
    SELECT priority FROM p WHERE priority IS NOT NULL`,
  // Positional (worker, lease_until, now, seq, now, k): binding by name costs more than a positional bind.
  claimRow: `UPDATE skq_jobs
    SET state = 1, worker_id = ?, lease_until = ?, attempts = attempts + 1, started_at = ?, cancel_requested = NULL, seq = ?, ev = 1, ev_at = ?
    WHERE k = ?`,
  nextRunAt: `WITH RECURSIVE p(priority) AS (
      SELECT MAX(priority) FROM skq_jobs WHERE queue = @queue AND route = @route AND state = 0 AND grp IS NULL
      UNION ALL
      SELECT (SELECT MAX(priority) FROM skq_jobs WHERE queue = @queue AND route = @route AND state = 0 AND grp IS NULL AND priority < p.priority)
      FROM p WHERE p.priority IS NOT NULL)
    SELECT MIN((SELECT run_at FROM skq_jobs
        WHERE queue = @queue AND route = @route AND state = 0 AND grp IS NULL AND priority = p.priority AND run_at > @now
          AND (target_worker IS NULL OR target_worker = @worker)
        ORDER BY run_at LIMIT 1)) AS run_at
    FROM p WHERE p.priority IS NOT NULL`,
  leaseOf: `SELECT ${LEASE_COLUMNS} FROM skq_jobs WHERE id = ? AND dix = ?`,
  // Its lease checked first (leaseOf). By key and positional (now, outcome, seq, now, now, k), with no
  // RETURNING: in bare better-sqlite3 the statement by id with RETURNING, its parameters bound by name,
  // cost 16 µs a row, this one 3.5.
  completeRow: `UPDATE skq_jobs ${COMPLETED_SET} WHERE k = ?`,
  // The same for a row this connection's claim handed out (its key kept), the lease checked by the statement
  // (now, outcome, seq, now, now, k, id, dix, queue, worker, attempt): the key is a hint, the id the check.
  completeHeld: `UPDATE skq_jobs ${COMPLETED_SET} WHERE k = ? AND id = ? AND dix = ? AND queue = ? AND state = 1 AND worker_id = ? AND attempts = ?`,
  // Ends a delivery failed or cancelled; a job of one delivery ends with it.
  finishBad: `UPDATE skq_jobs SET state = @state, finished_at = @now, lease_until = NULL, outcome = @outcome, seq = @seq, ev = @state, ev_at = @now,
      ended_at = CASE WHEN fanout IS NULL THEN @now END, ended_bad = CASE WHEN fanout IS NULL THEN 1 END
    WHERE id = @id AND dix = @dix`,
  requeue: `UPDATE skq_jobs SET state = 0, run_at = @run_at, lease_until = NULL, outcome = @outcome, seq = @seq, ev = 5, ev_at = @now WHERE id = @id AND dix = @dix`,
  // A rate-limited attempt goes back uncharged: its cap grows by the attempt it used.
  requeueUncharged: `UPDATE skq_jobs SET state = 0, run_at = @run_at, lease_until = NULL, outcome = @outcome, max_attempts = max_attempts + 1, seq = @seq, ev = 5, ev_at = @now
    WHERE id = @id AND dix = @dix`,
  extend: 'UPDATE skq_jobs SET lease_until = ? WHERE id = ? AND dix = ? AND worker_id = ? AND attempts = ? AND state = 1',
  expired: `SELECT ${DELIVERY_COLUMNS}, fanout, options FROM skq_jobs WHERE queue = ? AND state = 1 AND lease_until < ?`,
  /** Queued broadcast deliveries whose worker has no live registration (the addressed index). */
  orphaned: `SELECT ${DELIVERY_COLUMNS}, fanout, options FROM skq_jobs d WHERE d.queue = @queue AND d.target_worker IS NOT NULL AND d.state = 0
    AND NOT EXISTS (SELECT 1 FROM skq_workers w WHERE w.id = d.target_worker AND w.queue = @queue AND w.expires_at >= @now) LIMIT 500`,
  recover: 'UPDATE skq_jobs SET state = 0, run_at = @now, lease_until = NULL, recoveries = recoveries + 1, seq = @seq, ev = 6, ev_at = @now WHERE id = @id AND dix = @dix',
  openDeliveries: `SELECT ${DELIVERY_COLUMNS}, fanout, options FROM skq_jobs WHERE id = @job AND queue = @queue AND dix >= 0 AND state IN (0, 1)`,
  requestCancel: 'UPDATE skq_jobs SET cancel_requested = 1 WHERE id = ? AND dix = ?',
  queuedOf: `SELECT dix, route FROM skq_jobs WHERE id = @job AND queue = @queue AND dix >= 0 AND state = 0`,
  setRunAt: 'UPDATE skq_jobs SET run_at = @run_at, seq = @seq, ev = 7, ev_at = @now WHERE id = @id AND dix = @dix',
  rowsOf: `SELECT ${DELIVERY_COLUMNS}, ${HEADER_COLUMNS} FROM skq_jobs WHERE id = ? ORDER BY dix`,
  headsNewest: `SELECT ${DELIVERY_COLUMNS}, ${HEADER_COLUMNS} FROM skq_jobs WHERE queue = ? AND dix <= 0 ORDER BY created_at DESC, id DESC LIMIT ?`,
  headsAfter: `SELECT ${DELIVERY_COLUMNS}, ${HEADER_COLUMNS} FROM skq_jobs WHERE queue = @queue AND dix <= 0
      AND (created_at < @created_at OR (created_at = @created_at AND id < @id))
    ORDER BY created_at DESC, id DESC LIMIT @limit`,
  endedBadOf: 'SELECT dix, route, state FROM skq_jobs WHERE id = @job AND queue = @queue AND dix >= 0 AND state IN (3, 4)',
  retry: `UPDATE skq_jobs SET state = 0, run_at = @run_at, max_attempts = attempts - recoveries + @attempts, worker_id = NULL,
      lease_until = NULL, finished_at = NULL, outcome = NULL, cancel_requested = NULL, ended_at = NULL, ended_bad = NULL, seq = @seq, ev = 5, ev_at = @now
    WHERE id = @id AND dix = @dix`,
  reopen: 'UPDATE skq_jobs SET ended_at = NULL, ended_bad = NULL WHERE id = ? AND dix = 0',
  removable: 'SELECT queue, COUNT(*) FILTER (WHERE state = 1) AS running FROM skq_jobs WHERE id = ?',
  setProgress: 'UPDATE skq_jobs SET progress = ? WHERE id = ? AND dix = ?',
  isPaused: `SELECT 1 FROM skq_paused WHERE queue = ? AND route IN (?, '${WHOLE_QUEUE}')`,
  pause: 'INSERT OR IGNORE INTO skq_paused (queue, route, since) VALUES (?, ?, ?)',
  unpause: 'DELETE FROM skq_paused WHERE queue = ? AND route = ?',
  pausedOf: 'SELECT route FROM skq_paused WHERE queue = ? ORDER BY route',
  insertCallRecord: 'INSERT INTO skq_call_records (queue, name, at, record) VALUES (?, ?, ?, ?)',
  callRecords: 'SELECT record FROM skq_call_records WHERE queue = ? ORDER BY seq DESC LIMIT ?',
  callRecordsNamed: 'SELECT record FROM skq_call_records WHERE queue = ? AND name = ? ORDER BY seq DESC LIMIT ?',
  counts: 'SELECT route, state, n FROM skq_counts WHERE queue = ? AND n > 0',
  addCount: `INSERT INTO skq_counts (queue, route, state, n) VALUES (?, ?, ?, ?) ON CONFLICT (queue, route, state) DO UPDATE SET n = n + excluded.n`,
  scheduledCounts: 'SELECT route, COUNT(*) AS n FROM skq_jobs WHERE queue = ? AND state = 0 AND run_at > ? GROUP BY route',
  // Jobs are walked by the listing index one queue at a time (a skip scan), not row by row.
  queueNames: `WITH RECURSIVE q(name) AS (
      SELECT MIN(queue) FROM skq_jobs WHERE dix <= 0
      UNION ALL SELECT (SELECT MIN(queue) FROM skq_jobs WHERE dix <= 0 AND queue > q.name) FROM q WHERE q.name IS NOT NULL)
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
  insertNotice: 'INSERT INTO skq_events (seq, queue, type, job_id, delivery_id, route, worker_id, at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  dataVersion: 'PRAGMA data_version',
  changedRows: `SELECT id, dix, queue, route, worker_id, target_worker, seq, ev, ev_at, created_at FROM skq_jobs
    WHERE seq > ? AND seq <= ? AND queue = ? ORDER BY seq LIMIT ?`,
  changedRowsOfTypes: `SELECT id, dix, queue, route, worker_id, target_worker, seq, ev, ev_at, created_at FROM skq_jobs
    WHERE seq > ? AND seq <= ? AND queue = ? AND ev IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?`,
  noticesBetween: 'SELECT * FROM skq_events WHERE seq > ? AND seq <= ? AND queue = ? ORDER BY seq LIMIT ?',
  noticesOfTypesBetween: 'SELECT * FROM skq_events WHERE seq > ? AND seq <= ? AND queue = ? AND type IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?',
  // Notices are in seq order and nearly in time order: cut at the first one young enough to keep.
  trimNotices: `DELETE FROM skq_events WHERE seq < (SELECT MAX(seq) FROM skq_events) AND seq < MAX(
      COALESCE((SELECT seq FROM skq_events WHERE at >= @before ORDER BY seq LIMIT 1), (SELECT IFNULL(MAX(seq), 0) + 1 FROM skq_events)),
      (SELECT IFNULL(MAX(seq), 0) FROM skq_events) - @keep + 1)`,
};

/** These statements, prepared, by name. */
export type SqliteStatements = Record<keyof typeof SQL, Database.Statement>;

/** Prepares these statements, once per connection (the schema is in place by then). */
export function prepareStatements(db: Db): SqliteStatements {
  const statements = Object.fromEntries(Object.entries(SQL).map(([name, sql]) => [name, db.prepare(sql)])) as SqliteStatements;
  return statements;
}

/** Jobs deleted per trim, so one trim never holds the write lock for long (in the SQL: a bound LIMIT costs more). */
export const TRIM_BATCH = 1_000;

/** The rows (`victims`: a query of their keys) grouped as a trim needs them: see `endedBefore`. */
function victimsGrouped(victims: string): string {
  return `SELECT route, state, fanout IS NOT NULL AS several, COUNT(*) FILTER (WHERE dix >= 0) AS n,
      json_group_array(CASE WHEN fanout IS NULL THEN k ELSE id END) AS keys
    FROM skq_jobs WHERE k IN (${victims})
    GROUP BY route, state, several`;
}

/** The SQL of a delivery's end (`operations/job-endings.ts`), by statement name. */
const ENDING_SQL = {
  siblings: 'SELECT COUNT(*) FILTER (WHERE state IN (0, 1)) AS open, COUNT(*) FILTER (WHERE state IN (3, 4)) AS bad FROM skq_jobs WHERE id = ? AND dix >= 0',
  markEnded: 'UPDATE skq_jobs SET ended_at = ?, ended_bad = ? WHERE id = ? AND dix = 0',
  // What a trim deletes, with what the counts need: by route, state and whether the job has one row,
  // how many rows count and their keys (ids for jobs of several rows) as one JSON array. A DELETE's
  // RETURNING cost more per row than reading first, and reading a row per victim into JavaScript
  // about 0.85 µs a row more than this (143 µs against 57 for 101 victims).
  endedBefore: victimsGrouped(`SELECT k FROM skq_jobs WHERE queue = ? AND ended_bad = ? AND ended_at < ? AND ended_at IS NOT NULL LIMIT ${TRIM_BATCH}`),
  endedBeyond: victimsGrouped(`SELECT k FROM skq_jobs WHERE queue = ? AND ended_bad = ? AND ended_at IS NOT NULL ORDER BY ended_at DESC LIMIT ${TRIM_BATCH} OFFSET ?`),
  deleteJob: 'DELETE FROM skq_jobs WHERE id = ? RETURNING queue, route, state, dix',
  // A batch of jobs of one row each, by row key (a JSON array): no lookup by id per job.
  deleteRows: 'DELETE FROM skq_jobs WHERE k IN (SELECT value FROM json_each(?))',
  deleteLogs: 'DELETE FROM skq_logs WHERE job_id = ?',
  // The log lines of jobs of one row each, by row key (a JSON array), before those rows go.
  deleteLogsOfRows: 'DELETE FROM skq_logs WHERE job_id IN (SELECT id FROM skq_jobs WHERE k IN (SELECT value FROM json_each(?)))',
  anyLogs: 'SELECT EXISTS (SELECT 1 FROM skq_logs) AS any',
  countEnding: `INSERT INTO skq_throughput (queue, route, minute, completed, failed) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (queue, minute, route) DO UPDATE SET completed = completed + excluded.completed, failed = failed + excluded.failed`,
  trimThroughput: 'DELETE FROM skq_throughput WHERE minute < ?',
  freePages: 'PRAGMA freelist_count',
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
