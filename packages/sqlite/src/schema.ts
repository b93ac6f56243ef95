/**
 * The SQLite schema, version 5 (version 4 and a job's `grp` with the group tables). Reads: nothing. Writes: the skq_* tables and indexes, idempotently.
 *
 * One row per delivery, carrying its job: a direct job with one route (the common case) is one row,
 * read and written by one statement per step. A job with several deliveries (several routes, or a
 * broadcast) repeats its header in each of its rows, and its first row (`dix` 0) carries the job's
 * end; a broadcast nobody listened to is one row with `dix` -1 and no route.
 *
 * Lifecycle events are not rows: each step that changes a row stamps it with the next change
 * sequence (`seq`) and the event it stands for (`ev`), and subscribers in other processes read the
 * rows changed since the last sequence they saw. What a row cannot say (progress values, pauses,
 * worker commands, cancel requests, removals, the end of a job deleted in the step that ended it) is
 * a notice in skq_events, numbered from the same sequence.
 *
 * States and event types are small integers (values 0 and 1 take no bytes in a record); a column at
 * its default is NULL. No triggers: counts are kept by the steps themselves, in skq_counts.
 */
export const SCHEMA_VERSION = 5;

/** Delivery states as stored. */
export { RELATIONAL_STATE_CODE as STATE_CODE, RELATIONAL_STATE_NAME as STATE_NAME } from '@skq/core/backend';

/** The lifecycle event a row's last change stands for (`ev`). */
export const ROW_EVENT_CODE = { enqueued: 0, started: 1, succeeded: 2, failed: 3, cancelled: 4, retrying: 5, recovered: 6, rescheduled: 7 } as const;
export const ROW_EVENT_NAME = ['enqueued', 'started', 'succeeded', 'failed', 'cancelled', 'retrying', 'recovered', 'rescheduled'] as const;
export type RowEvent = keyof typeof ROW_EVENT_CODE;

/** The tables versions 1 to 4 share (version 4's shape; an older file gets the columns it lacks when it moves). */
export const SHARED_TABLES_SQL = `
CREATE TABLE IF NOT EXISTS skq_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

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
  id              TEXT PRIMARY KEY,
  queue           TEXT NOT NULL,
  routes          TEXT NOT NULL,
  hostname        TEXT NOT NULL,
  pid             INTEGER NOT NULL,
  started_at      INTEGER NOT NULL,
  last_seen_at    INTEGER NOT NULL,
  expires_at      INTEGER NOT NULL,
  state           TEXT NOT NULL DEFAULT 'running',
  running_job_ids TEXT NOT NULL DEFAULT '[]',
  command         TEXT
);
CREATE INDEX IF NOT EXISTS skq_workers_by_queue ON skq_workers (queue, expires_at);

-- Notices: the events a row cannot stand for. seq comes from the change sequence shared with the rows.
CREATE TABLE IF NOT EXISTS skq_events (
  seq         INTEGER PRIMARY KEY,
  queue       TEXT NOT NULL,
  type        TEXT NOT NULL,
  job_id      TEXT NOT NULL,
  delivery_id TEXT,
  route       TEXT,
  worker_id   TEXT,
  at          INTEGER NOT NULL,
  data        TEXT
);

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
 * Groups (version 5). Jobs of a group are found by the two partial indexes (queued, per route and
 * group; running, per group); a queue without groups pays for neither. Claims take turns among a
 * route's groups in key order from where the last claim stopped (`skq_group_cursors`; the jobs
 * without a group take their turn before the first group), so no row per group is kept for turns.
 * Limits are rows of skq_limits (scope 0: a group, '*' the default; scope 1: a route); skq_starts
 * logs the starts a rate window counts, for keys with a rate only; skq_group_holds keeps the groups a
 * RateLimited holds.
 */
const GROUPS_SQL = `
CREATE INDEX IF NOT EXISTS skq_jobs_group_queued ON skq_jobs (queue, route, grp, priority DESC, run_at) WHERE state = 0 AND grp IS NOT NULL;
CREATE INDEX IF NOT EXISTS skq_jobs_group_running ON skq_jobs (queue, grp) WHERE state = 1 AND grp IS NOT NULL;
CREATE TABLE IF NOT EXISTS skq_limits (
  queue       TEXT NOT NULL,
  scope       INTEGER NOT NULL,
  key         TEXT NOT NULL,
  concurrency INTEGER,
  rate_max    INTEGER,
  rate_per_ms INTEGER,
  PRIMARY KEY (queue, scope, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS skq_group_cursors (
  queue TEXT NOT NULL,
  route TEXT NOT NULL,
  grp   TEXT NOT NULL,
  PRIMARY KEY (queue, route)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS skq_group_holds (
  queue TEXT NOT NULL,
  grp   TEXT NOT NULL,
  until INTEGER NOT NULL,
  PRIMARY KEY (queue, grp)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS skq_starts (
  queue TEXT NOT NULL,
  scope INTEGER NOT NULL,
  key   TEXT NOT NULL,
  at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS skq_starts_by_key ON skq_starts (queue, scope, key, at);
`;

/** The jobs of version 5: their rows and indexes, and the counts kept by the steps. */
export const JOBS_SQL = `
CREATE TABLE IF NOT EXISTS skq_jobs (
  k                INTEGER PRIMARY KEY,
  id               TEXT NOT NULL,
  dix              INTEGER NOT NULL,
  queue            TEXT NOT NULL,
  route            TEXT,
  target_worker    TEXT,
  name             TEXT NOT NULL,
  args             TEXT NOT NULL,
  routes           TEXT,
  broadcast        INTEGER,
  fanout           INTEGER,
  priority         INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,
  options          TEXT,
  dedupe_key       TEXT,
  state            INTEGER NOT NULL,
  run_at           INTEGER NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL,
  recoveries       INTEGER NOT NULL DEFAULT 0,
  worker_id        TEXT,
  lease_until      INTEGER,
  started_at       INTEGER,
  finished_at      INTEGER,
  outcome          TEXT,
  progress         TEXT,
  cancel_requested INTEGER,
  ended_at         INTEGER,
  ended_bad        INTEGER,
  seq              INTEGER NOT NULL,
  ev               INTEGER NOT NULL,
  ev_at            INTEGER,
  grp              TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS skq_jobs_id ON skq_jobs (id, dix);
-- In insert order (listed newest first by reading it backwards): new jobs go in at its end, so its pages fill up.
-- Newest first in the index put each job of a batch before the one made just before it, and split pages half full.
CREATE INDEX IF NOT EXISTS skq_jobs_listing ON skq_jobs (queue, created_at, id) WHERE dix <= 0;
-- Claims read the jobs without a group here, and each group's own below.
CREATE INDEX IF NOT EXISTS skq_jobs_queued ON skq_jobs (queue, route, priority DESC, run_at) WHERE state = 0 AND grp IS NULL;
CREATE INDEX IF NOT EXISTS skq_jobs_running ON skq_jobs (queue, lease_until) WHERE state = 1;
CREATE INDEX IF NOT EXISTS skq_jobs_addressed ON skq_jobs (queue, target_worker) WHERE target_worker IS NOT NULL AND state = 0;
CREATE INDEX IF NOT EXISTS skq_jobs_ended ON skq_jobs (queue, ended_bad, ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS skq_jobs_dedupe ON skq_jobs (queue, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS skq_jobs_seq ON skq_jobs (seq);
${GROUPS_SQL}
CREATE TABLE IF NOT EXISTS skq_counts (
  queue TEXT NOT NULL,
  route TEXT NOT NULL,
  state INTEGER NOT NULL,
  n     INTEGER NOT NULL,
  PRIMARY KEY (queue, route, state)
) WITHOUT ROWID;
`;

export const SCHEMA_SQL = SHARED_TABLES_SQL + JOBS_SQL;
