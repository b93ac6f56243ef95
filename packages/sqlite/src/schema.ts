/**
 * The SQLite schema. Reads: nothing. Writes: the skq_* tables and indexes, idempotently.
 * Job states are stored per delivery; `scheduled` is a queued delivery whose run_at is in the future.
 */
export const SCHEMA_VERSION = 2;

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
CREATE INDEX IF NOT EXISTS skq_deliveries_claim ON skq_deliveries (queue, route, state, priority DESC, run_at);
CREATE INDEX IF NOT EXISTS skq_deliveries_by_job ON skq_deliveries (job_id);
CREATE INDEX IF NOT EXISTS skq_deliveries_leases ON skq_deliveries (queue, state, lease_until);

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

CREATE TABLE IF NOT EXISTS skq_events (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  queue       TEXT NOT NULL,
  type        TEXT NOT NULL,
  job_id      TEXT NOT NULL,
  delivery_id TEXT,
  route       TEXT,
  worker_id   TEXT,
  at          INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS skq_events_by_queue ON skq_events (queue, seq);
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
