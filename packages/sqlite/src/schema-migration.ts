import type Database from 'better-sqlite3';
import { SkqError } from '@skq/core';
import { DEFAULT_RUN_OPTIONS } from '@skq/core/backend';
import { JOBS_SQL, SCHEMA_SQL, SCHEMA_VERSION, SHARED_TABLES_SQL } from './schema.js';
import { ADDED_COLUMNS, V3_JOBS_SQL } from './schema-v3.js';

type Db = InstanceType<typeof Database>;

/**
 * Puts the schema in place, once, under the write lock: a new file gets version 5; a file of an
 * older skunq is moved to it with every job kept (see {@link migrateToV4} and {@link migrateToV5}); a file of a newer skunq
 * is refused. Two processes opening a file at once migrate it once: the second finds version 5.
 * Reads: the tables there and the schema version. Writes: the tables, indexes (a listing index made
 * newest first is made again in insert order) and version.
 */
export function prepareSchema(db: Db, now: number): void {
  db.transaction(() => {
    const tables = new Set((db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((t) => t.name));
    const version = tables.has('skq_meta') ? Number((db.prepare(`SELECT value FROM skq_meta WHERE key = 'schema_version'`).get() as { value: string } | undefined)?.value ?? 0) : 0;
    if (version > SCHEMA_VERSION) {
      throw new SkqError('INVALID_STATE', `this SQLite file has skunq schema version ${version}, made by a newer skunq; this one reads up to version ${SCHEMA_VERSION}`, {
        context: { field: 'path' },
      });
    }
    const columns = tables.has('skq_jobs') ? (db.prepare(`SELECT name FROM pragma_table_info('skq_jobs')`).all() as { name: string }[]).map((c) => c.name) : [];
    if (columns.length && !columns.includes('dix')) migrateToV4(db, now);
    else if (columns.length && !columns.includes('grp')) migrateToV5(db);
    // A listing index made newest first (before this release) is made again in insert order; either serves the same queries.
    const listing = db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'skq_jobs_listing'`).get() as { sql: string } | undefined;
    if (listing?.sql.includes('DESC')) db.exec('DROP INDEX skq_jobs_listing');
    db.exec(SCHEMA_SQL);
    db.prepare('INSERT INTO skq_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run('schema_version', String(SCHEMA_VERSION));
  }).immediate();
}

/**
 * On a new file, before anything is written to it (the WAL mode included), turns on incremental
 * auto-vacuum, so that the pages retention frees can go back to the file system. An older file keeps
 * its setting (changing it takes a VACUUM) and reuses the pages it frees for its new rows.
 */
export function shrinkableWhenNew(db: Db): void {
  if ((db.prepare('SELECT COUNT(*) AS n FROM sqlite_master').get() as { n: number }).n === 0) db.pragma('auto_vacuum = INCREMENTAL');
}

/**
 * Moves a file of versions 1 to 3 to version 4, inside the caller's write transaction.
 * - Reads: the live worker registrations (a worker of the older skunq would fail on the new tables,
 *   so the move is refused while any is live); every job and delivery.
 * - Writes: first what version 3 added to older files; then one row per delivery carrying its job
 *   (a job with no delivery: one row with index -1), the counts by queue, route and state, and the
 *   old tables, triggers and indexes dropped. Log lines, workers, pauses, schedules, throughput and
 *   call records keep their tables; old lifecycle events stay as notices until trimmed.
 * - Checks, before anything commits, that every job and every delivery has its row.
 */
function migrateToV4(db: Db, now: number): void {
  db.exec(SHARED_TABLES_SQL + V3_JOBS_SQL);
  for (const { table, column, definition } of ADDED_COLUMNS) {
    const present = db.prepare(`SELECT name FROM pragma_table_info('${table}')`).all() as { name: string }[];
    if (!present.some((c) => c.name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
  }
  const live = db.prepare('SELECT COUNT(*) AS n FROM skq_workers WHERE expires_at >= ?').get(now) as { n: number };
  if (live.n > 0) {
    throw new SkqError(
      'INVALID_STATE',
      `this SQLite file needs moving to skunq schema version ${SCHEMA_VERSION}, and ${live.n} worker(s) of an older skunq are registered on it: stop them (and their producers), then open it again`,
      { context: { field: 'path' } },
    );
  }
  const before = db.prepare('SELECT (SELECT COUNT(*) FROM skq_jobs) AS jobs, (SELECT COUNT(*) FROM skq_deliveries) AS deliveries').get() as { jobs: number; deliveries: number };
  db.exec(jobsTable('skq_jobs_v4'));
  const stateCode = (column: string) => `CASE ${column} WHEN 'queued' THEN 0 WHEN 'running' THEN 1 WHEN 'succeeded' THEN 2 WHEN 'failed' THEN 3 ELSE 4 END`;
  db.prepare(
    `INSERT INTO skq_jobs_v4 (id, dix, queue, route, target_worker, name, args, routes, broadcast, fanout, priority, created_at, options, dedupe_key,
       state, run_at, attempts, max_attempts, recoveries, worker_id, lease_until, started_at, finished_at, outcome, progress, cancel_requested,
       ended_at, ended_bad, seq, ev, ev_at)
     SELECT j.id, x.dix, d.queue, d.route, d.target_worker, j.name, j.args,
       CASE WHEN j.routes = json_array(d.route) THEN NULL ELSE j.routes END, CASE WHEN j.type = 'broadcast' THEN 1 END, CASE WHEN n.n > 1 THEN n.n END,
       j.priority, j.created_at, CASE WHEN j.options = @default THEN NULL ELSE j.options END, j.dedupe_key,
       ${stateCode('d.state')}, d.run_at, d.attempts, d.max_attempts, d.recoveries, d.worker_id, d.lease_until, d.started_at, d.finished_at,
       CASE WHEN d.state = 'succeeded' THEN d.result ELSE d.error END, d.progress, NULLIF(d.cancel_requested, 0),
       CASE WHEN x.dix = 0 OR n.n = 1 THEN j.ended_at END, CASE WHEN (x.dix = 0 OR n.n = 1) AND j.ended_at IS NOT NULL THEN j.ended_kind = 'failed' END,
       0, ${stateCode('d.state')}, NULL
     FROM skq_deliveries d
     JOIN skq_jobs j ON j.id = d.job_id
     JOIN (SELECT job_id, COUNT(*) AS n FROM skq_deliveries GROUP BY job_id) n ON n.job_id = d.job_id
     JOIN (SELECT id, CAST(substr(id, length(job_id) + 2) AS INTEGER) AS dix FROM skq_deliveries) x ON x.id = d.id
     ORDER BY j.created_at, j.id, x.dix`,
  ).run({ default: JSON.stringify(DEFAULT_RUN_OPTIONS) });
  db.prepare(
    `INSERT INTO skq_jobs_v4 (id, dix, queue, route, name, args, routes, broadcast, priority, created_at, options, dedupe_key,
       state, run_at, max_attempts, ended_at, ended_bad, seq, ev)
     SELECT j.id, -1, j.queue, NULL, j.name, j.args, j.routes, CASE WHEN j.type = 'broadcast' THEN 1 END, j.priority, j.created_at,
       CASE WHEN j.options = @default THEN NULL ELSE j.options END, j.dedupe_key, 4, j.created_at, IFNULL(json_extract(j.options, '$.attempts'), 1),
       IFNULL(j.ended_at, j.created_at), 1, 0, 4
     FROM skq_jobs j WHERE NOT EXISTS (SELECT 1 FROM skq_deliveries d WHERE d.job_id = j.id)`,
  ).run({ default: JSON.stringify(DEFAULT_RUN_OPTIONS) });
  const after = db.prepare('SELECT COUNT(DISTINCT id) AS jobs, COUNT(*) FILTER (WHERE dix >= 0) AS deliveries FROM skq_jobs_v4').get() as { jobs: number; deliveries: number };
  if (after.jobs !== before.jobs || after.deliveries !== before.deliveries) {
    throw new SkqError('BACKEND_ERROR', `moving to schema version ${SCHEMA_VERSION} would keep ${after.jobs} of ${before.jobs} jobs and ${after.deliveries} of ${before.deliveries} deliveries; nothing was changed`);
  }
  db.exec(`
    DROP TRIGGER IF EXISTS skq_count_added;
    DROP TRIGGER IF EXISTS skq_count_moved;
    DROP TRIGGER IF EXISTS skq_count_removed;
    DROP TABLE IF EXISTS skq_state_counts;
    DROP TABLE skq_deliveries;
    DROP TABLE skq_jobs;
    ALTER TABLE skq_jobs_v4 RENAME TO skq_jobs;
    ${JOBS_SQL}
    DELETE FROM skq_counts;
    INSERT INTO skq_counts (queue, route, state, n) SELECT queue, route, state, COUNT(*) FROM skq_jobs WHERE dix >= 0 GROUP BY 1, 2, 3;
  `);
}

/**
 * Moves a file of version 4 to version 5, inside the caller's write transaction: every job gets a
 * group column (none), and the queued index, which now holds the jobs without a group only, is made
 * again (its rows are the same: no job had a group). The group tables come with the schema.
 */
function migrateToV5(db: Db): void {
  db.exec('ALTER TABLE skq_jobs ADD COLUMN grp TEXT; DROP INDEX IF EXISTS skq_jobs_queued;');
}

/** The CREATE TABLE of version 4's skq_jobs, under another name (the table being filled while the old one still stands). */
function jobsTable(name: string): string {
  const start = JOBS_SQL.indexOf('CREATE TABLE IF NOT EXISTS skq_jobs (');
  const end = JOBS_SQL.indexOf(');', start) + 2;
  return JOBS_SQL.slice(start, end).replace('IF NOT EXISTS skq_jobs (', `${name} (`);
}
