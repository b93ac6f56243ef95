/**
 * The job tables of versions 1 to 3, kept to bring a file made by an older skunq to version 3 before
 * it moves to version 4 (see `schema-migration.ts`; the tables all versions share are `SHARED_TABLES_SQL`).
 * Reads: nothing. Writes: the tables and index, idempotently. A job was a skq_jobs row and a
 * skq_deliveries row per delivery.
 */
export const V3_JOBS_SQL = `
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
