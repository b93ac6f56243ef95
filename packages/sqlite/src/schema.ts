/**
 * The SQLite schema. Reads: nothing. Writes: the skq_* tables and indexes, idempotently.
 * Job states are stored per delivery; `scheduled` is a queued delivery whose run_at is in the future.
 */
export const SCHEMA_VERSION = 3;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS skq_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS skq_jobs (
  id          TEXT PRIMARY KEY,
  queue       TEXT NOT NULL,
  name        TEXT NOT NULL,
  args        TEXT NOT NULL,
  routes      TEXT NOT NULL,
  type        TEXT NOT NULL,
  priority    INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  options     TEXT NOT NULL,
  dedupe_key  TEXT,
  empty_state TEXT
);
CREATE INDEX IF NOT EXISTS skq_jobs_by_dedupe ON skq_jobs (queue, dedupe_key) WHERE dedupe_key IS NOT NULL;

CREATE TABLE IF NOT EXISTS skq_deliveries (
  id               TEXT PRIMARY KEY,
  job_id           TEXT NOT NULL,
  queue            TEXT NOT NULL,
  route            TEXT NOT NULL,
  target_worker    TEXT,
  state            TEXT NOT NULL,
  priority         INTEGER NOT NULL,
  run_at           INTEGER NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL,
  recoveries       INTEGER NOT NULL DEFAULT 0,
  worker_id        TEXT,
  lease_until      INTEGER,
  started_at       INTEGER,
  finished_at      INTEGER,
  result           TEXT,
  error            TEXT,
  cancel_requested INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS skq_logs (
  id          INTEGER PRIMARY KEY,
  job_id      TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  at          INTEGER NOT NULL,
  stream      TEXT NOT NULL,
  line        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS skq_logs_by_job ON skq_logs (job_id, id);

CREATE TABLE IF NOT EXISTS skq_workers (
  id           TEXT PRIMARY KEY,
  queue        TEXT NOT NULL,
  routes       TEXT NOT NULL,
  hostname     TEXT NOT NULL,
  pid          INTEGER NOT NULL,
  started_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS skq_workers_by_queue ON skq_workers (queue, expires_at);

-- seq is the rowid, without AUTOINCREMENT (whose counter row is one more page per commit): the trim
-- never deletes the newest event, so a new seq is always above every seq handed out before.
CREATE TABLE IF NOT EXISTS skq_events (
  seq         INTEGER PRIMARY KEY,
  queue       TEXT NOT NULL,
  type        TEXT NOT NULL,
  job_id      TEXT NOT NULL,
  delivery_id TEXT,
  route       TEXT,
  worker_id   TEXT,
  at          INTEGER NOT NULL
);
`;

/**
 * Columns added after version 1, for files made by an older skunq: `ALTER TABLE … ADD COLUMN` for each
 * one a table lacks. Reads: table_info. Writes: the columns.
 */
export const ADDED_COLUMNS: readonly { table: string; column: string; definition: string }[] = [
  { table: 'skq_jobs', column: 'ended_at', definition: 'INTEGER' },
  /** 'completed' or 'failed' (failed or cancelled) once every delivery has ended: what retention trims by. */
  { table: 'skq_jobs', column: 'ended_kind', definition: 'TEXT' },
  { table: 'skq_deliveries', column: 'progress', definition: 'TEXT' },
  { table: 'skq_workers', column: 'state', definition: "TEXT NOT NULL DEFAULT 'running'" },
  { table: 'skq_workers', column: 'running_job_ids', definition: "TEXT NOT NULL DEFAULT '[]'" },
  { table: 'skq_workers', column: 'command', definition: 'TEXT' },
  { table: 'skq_events', column: 'data', definition: 'TEXT' },
];

/** Indexes and tables of version 2. Reads: nothing. Writes: them, idempotently; drops the v1 listing index. */
export const OPERATIONS_SQL = `
DROP INDEX IF EXISTS skq_jobs_by_queue;
CREATE INDEX IF NOT EXISTS skq_jobs_listing ON skq_jobs (queue, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS skq_jobs_ended ON skq_jobs (queue, ended_kind, ended_at) WHERE ended_kind IS NOT NULL;

CREATE TABLE IF NOT EXISTS skq_paused (
  queue TEXT NOT NULL,
  route TEXT NOT NULL,
  since INTEGER NOT NULL,
  PRIMARY KEY (queue, route)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS skq_throughput (
  queue     TEXT NOT NULL,
  route     TEXT NOT NULL,
  minute    INTEGER NOT NULL,
  completed INTEGER NOT NULL DEFAULT 0,
  failed    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (queue, minute, route)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS skq_call_records (
  seq    INTEGER PRIMARY KEY AUTOINCREMENT,
  queue  TEXT NOT NULL,
  name   TEXT NOT NULL,
  at     INTEGER NOT NULL,
  record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS skq_call_records_by_name ON skq_call_records (queue, name, seq);
`;

/** Schedules. Reads: nothing. Writes: the skq_schedules table, idempotently. */
export const SCHEDULES_SQL = `
CREATE TABLE IF NOT EXISTS skq_schedules (
  queue          TEXT NOT NULL,
  id             TEXT NOT NULL,
  definition     TEXT NOT NULL,
  state          TEXT,
  next_run_at    INTEGER,
  waiting_job_id TEXT,
  paused         INTEGER NOT NULL DEFAULT 0,
  fired_count    INTEGER NOT NULL DEFAULT 0,
  last_fired_at  INTEGER,
  last_job_id    TEXT,
  version        INTEGER NOT NULL DEFAULT 1,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  PRIMARY KEY (queue, id)
);
`;

/**
 * The lean layout of version 3. Reads: nothing. Writes: the indexes the hot path keeps, idempotently,
 * and drops the version-2 indexes it replaces. Each commit writes every page it touched to the WAL,
 * so fewer and smaller indexes are what makes a claim or a completion cheap:
 * - claims read a partial index of queued deliveries, lease recovery one of running deliveries;
 *   ended deliveries are in neither;
 * - a job's deliveries are found through the delivery primary key (`<jobId>.<n>`), so there is no
 *   job index on deliveries;
 * - events are read by sequence number (the rowid), so they have no index.
 */
export const LEAN_LAYOUT_SQL = `
DROP INDEX IF EXISTS skq_deliveries_claim;
DROP INDEX IF EXISTS skq_deliveries_by_job;
DROP INDEX IF EXISTS skq_deliveries_leases;
DROP INDEX IF EXISTS skq_events_by_queue;
CREATE INDEX IF NOT EXISTS skq_deliveries_queued ON skq_deliveries (queue, route, priority DESC, run_at) WHERE state = 'queued';
CREATE INDEX IF NOT EXISTS skq_deliveries_running ON skq_deliveries (queue, lease_until) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS skq_deliveries_addressed ON skq_deliveries (queue, target_worker) WHERE target_worker IS NOT NULL AND state = 'queued';
`;

/**
 * Delivery counts by queue, route and state, kept by triggers, since no index covers ended deliveries
 * any more. Reads: skq_deliveries (once, to fill the table). Writes: the table and its triggers.
 * Run in one write transaction, so that no delivery changes between the fill and the triggers.
 */
export const STATE_COUNTS_SQL = `
CREATE TABLE IF NOT EXISTS skq_state_counts (
  queue TEXT NOT NULL,
  route TEXT NOT NULL,
  state TEXT NOT NULL,
  n     INTEGER NOT NULL,
  PRIMARY KEY (queue, route, state)
) WITHOUT ROWID;
DELETE FROM skq_state_counts;
INSERT INTO skq_state_counts (queue, route, state, n) SELECT queue, route, state, COUNT(*) FROM skq_deliveries GROUP BY 1, 2, 3;
CREATE TRIGGER skq_count_added AFTER INSERT ON skq_deliveries BEGIN
  INSERT INTO skq_state_counts (queue, route, state, n) VALUES (NEW.queue, NEW.route, NEW.state, 1)
    ON CONFLICT (queue, route, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER skq_count_moved AFTER UPDATE OF state ON skq_deliveries WHEN OLD.state <> NEW.state BEGIN
  UPDATE skq_state_counts SET n = n - 1 WHERE queue = OLD.queue AND route = OLD.route AND state = OLD.state;
  INSERT INTO skq_state_counts (queue, route, state, n) VALUES (NEW.queue, NEW.route, NEW.state, 1)
    ON CONFLICT (queue, route, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER skq_count_removed AFTER DELETE ON skq_deliveries BEGIN
  UPDATE skq_state_counts SET n = n - 1 WHERE queue = OLD.queue AND route = OLD.route AND state = OLD.state;
END;
`;

/**
 * The SQL condition "delivery of job `job`", for a delivery table aliased `d` or unaliased: a range
 * of the delivery primary key (`<jobId>.<n>`), checked against job_id because a custom job id may
 * itself contain a dot.
 */
export function deliveryOfJob(job: string, alias = ''): string {
  const a = alias ? `${alias}.` : '';
  return `${a}id >= ${job} || '.' AND ${a}id < ${job} || '/' AND ${a}job_id = ${job}`;
}
