import type Database from 'better-sqlite3';
import { CLAIMED_COLUMNS } from './sqlite-statements.js';

type Db = InstanceType<typeof Database>;

/**
 * A group's running rows (queue, grp). The index is named: the planner would walk the queue's running index
 * instead (the partial index's terms are spelled out for it).
 */
const GROUP_RUNNING = 'SELECT COUNT(*) AS n FROM skq_jobs INDEXED BY skq_jobs_group_running WHERE queue = ? AND grp = ? AND state = 1 AND grp IS NOT NULL';

/** The next due row of a group (`grp = ?`) or of the jobs without one (`grp IS NULL`) on a route, with `extra` columns after `k`. */
function nextDueSql(group: 'grp = ?' | 'grp IS NULL', extra = ''): string {
  return `SELECT ${CLAIMED_COLUMNS.join(', ')}, k${extra} FROM skq_jobs
    WHERE queue = ? AND route = ? AND state = 0 AND ${group} AND run_at <= ? AND (target_worker IS NULL OR target_worker = ?)
    ORDER BY priority DESC, run_at, k LIMIT 1`;
}

/** The SQL of the group operations (`operations/group-claim.ts`, `operations/groups.ts`), by statement name. */
const GROUP_SQL = {
  // Whether jobs with and without a group are queued on the route (the grouped and the queued index).
  anyGroupedQueued: 'SELECT 1 FROM skq_jobs WHERE queue = ? AND route = ? AND state = 0 AND grp IS NOT NULL LIMIT 1',
  anyUngroupedQueued: 'SELECT 1 FROM skq_jobs WHERE queue = ? AND route = ? AND state = 0 AND grp IS NULL LIMIT 1',
  // The route's next group with queued rows after a key, in key order: one step of a skip scan of the grouped queued index.
  nextGroup: 'SELECT MIN(grp) AS grp FROM skq_jobs WHERE queue = ? AND route = ? AND state = 0 AND grp IS NOT NULL AND grp > ?',
  cursorOf: 'SELECT grp FROM skq_group_cursors WHERE queue = ? AND route = ?',
  setCursor: 'INSERT INTO skq_group_cursors (queue, route, grp) VALUES (?, ?, ?) ON CONFLICT (queue, route) DO UPDATE SET grp = excluded.grp',
  // A group's (or the jobs without a group's) next due row with what the worker needs (CLAIMED_COLUMNS, then `k`),
  // positional (queue, route, grp, now, worker): the claim then sets it running by its key, as the ungrouped
  // claim does (a RETURNING and named parameters cost a grouped job about a quarter more time than an ungrouped one).
  dueInGroup: nextDueSql('grp = ?'),
  // The same with the group's running rows as one more column (queue, grp, queue, route, grp, now, worker), for a group
  // with a concurrency limit: one statement a turn, not two. (The claim's own takes are counted: they are in its transaction.)
  dueInGroupCounted: nextDueSql('grp = ?', `, (${GROUP_RUNNING}) AS running`),
  dueUngrouped: nextDueSql('grp IS NULL'),
  // The earliest later run time of a group's queued rows on a route that this worker may take; null when it has none.
  groupNextRunAt: `SELECT MIN(run_at) AS run_at FROM skq_jobs
    WHERE queue = ? AND route = ? AND state = 0 AND grp = ? AND run_at > ? AND (target_worker IS NULL OR target_worker = ?)`,
  groupRunning: GROUP_RUNNING,
  limitsOf: 'SELECT concurrency, rate_max, rate_per_ms FROM skq_limits WHERE queue = ? AND scope = ? AND key = ?',
  anyOwnGroupLimits: `SELECT 1 FROM skq_limits WHERE queue = ? AND scope = 0 AND key <> '*' LIMIT 1`,
  anyHold: 'SELECT 1 FROM skq_group_holds WHERE queue = ? AND until > ? LIMIT 1',
  setLimits: `INSERT INTO skq_limits (queue, scope, key, concurrency, rate_max, rate_per_ms) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (queue, scope, key) DO UPDATE SET concurrency = excluded.concurrency, rate_max = excluded.rate_max, rate_per_ms = excluded.rate_per_ms`,
  deleteLimits: 'DELETE FROM skq_limits WHERE queue = ? AND scope = ? AND key = ?',
  holdOf: 'SELECT until FROM skq_group_holds WHERE queue = ? AND grp = ? AND until > ?',
  hold: `INSERT INTO skq_group_holds (queue, grp, until) VALUES (?, ?, ?) ON CONFLICT (queue, grp) DO UPDATE SET until = MAX(until, excluded.until)`,
  dropEndedHolds: 'DELETE FROM skq_group_holds WHERE queue = ? AND until <= ?',
  // A rate window: the starts after `since`, oldest first (the oldest leaves the window first).
  startsSince: 'SELECT COUNT(*) AS n, MIN(at) AS oldest FROM skq_starts WHERE queue = ? AND scope = ? AND key = ? AND at > ?',
  addStart: 'INSERT INTO skq_starts (queue, scope, key, at) VALUES (?, ?, ?, ?)',
  dropStartsOf: 'DELETE FROM skq_starts WHERE queue = ? AND scope = ? AND key = ? AND at <= ?',
  // Starts no window can count any more: older than the queue's longest rate (all of them when it has none).
  dropOldStarts: `DELETE FROM skq_starts WHERE queue = @queue AND at <= @now - IFNULL((SELECT MAX(rate_per_ms) FROM skq_limits WHERE queue = @queue), 0)`,
  // Groups in key order after a cursor with running rows (a skip scan of the running index), own limits or a hold.
  groupKeysAfter: `SELECT grp FROM (
      SELECT grp FROM (
        WITH RECURSIVE g(grp) AS (
          SELECT MIN(grp) FROM skq_jobs INDEXED BY skq_jobs_group_running WHERE queue = @queue AND state = 1 AND grp IS NOT NULL AND grp > @after
          UNION ALL
          SELECT (SELECT MIN(grp) FROM skq_jobs INDEXED BY skq_jobs_group_running WHERE queue = @queue AND state = 1 AND grp IS NOT NULL AND grp > g.grp) FROM g
          WHERE g.grp IS NOT NULL LIMIT @limit)
        SELECT grp FROM g WHERE grp IS NOT NULL)
      UNION SELECT key FROM skq_limits WHERE queue = @queue AND scope = 0 AND key <> '*' AND key > @after
      UNION SELECT grp FROM skq_group_holds WHERE queue = @queue AND grp > @after AND until > @now)
    ORDER BY grp LIMIT @limit`,
  // A group's queued rows on one route (the grouped queued index).
  groupQueuedOn: 'SELECT COUNT(*) AS n FROM skq_jobs WHERE queue = ? AND route = ? AND grp = ? AND state = 0 AND grp IS NOT NULL',
  // The routes that have rows of a queue (its counts).
  routesOf: 'SELECT DISTINCT route FROM skq_counts WHERE queue = ?',
};

/** The group statements, by name. */
export type GroupStatements = Record<keyof typeof GROUP_SQL, Database.Statement>;

/** Prepares the group statements, once per connection (the schema is in place by then). */
export function prepareGroupStatements(db: Db): GroupStatements {
  const statements = Object.fromEntries(Object.entries(GROUP_SQL).map(([name, sql]) => [name, db.prepare(sql)])) as GroupStatements;
  // Claims answer arrays in CLAIMED_COLUMNS order, as the ungrouped claim does.
  statements.dueInGroup.raw(true);
  statements.dueInGroupCounted.raw(true);
  statements.dueUngrouped.raw(true);
  return statements;
}
