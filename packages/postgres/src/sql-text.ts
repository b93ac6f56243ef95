import { WHOLE_QUEUE } from '@skq/core/backend';

/** The columns a delivery is read back with (see `toDelivery`). */
export const DELIVERY_COLUMNS =
  'id, dix, queue, route, target_worker, state, priority, run_at, attempts, max_attempts, recoveries, worker_id, lease_until, started_at, finished_at, outcome, progress, cancel_requested';
/** A job's header, as each of its rows repeats it (the dedupe key only on its first). */
const HEADER_COLUMNS = 'name, args, routes, broadcast, fanout, created_at, options, dedupe_key, grp';
/** What a lease holder's write reads back to check the lease and record the end. */
const LEASE_COLUMNS = 'queue, route, state, worker_id, attempts, recoveries, cancel_requested, fanout, options, grp';

/** The columns a new row is inserted with, each an array parameter of {@link SQL.insertRows}, in this order. */
export const INSERT_COLUMNS = [
  ['id', 'text'], ['dix', 'int'], ['queue', 'text'], ['route', 'text'], ['target_worker', 'text'], ['name', 'text'], ['args', 'text'],
  ['routes', 'text'], ['broadcast', 'boolean'], ['fanout', 'int'], ['priority', 'int'], ['created_at', 'bigint'], ['options', 'text'],
  ['dedupe_key', 'text'], ['state', 'smallint'], ['run_at', 'bigint'], ['max_attempts', 'int'], ['ended_at', 'bigint'], ['ended_bad', 'boolean'],
  ['grp', 'text'],
] as const;

/** The rows of a uniform batch (see `insertUniform`): ids ($1) and arguments ($2) from arrays, the other columns once. */
const UNIFORM_ROWS = `INSERT INTO {s}.jobs (id, dix, queue, route, name, args, priority, created_at, options, state, run_at, max_attempts)
      SELECT r.id, 0, $3, $4, $5, r.args, $6, $7, $8, 0, $9, $10 FROM unnest($1::text[], $2::text[]) AS r(id, args)`;
/** The `enqueued` events of a uniform batch's rows (`ins`), published when someone listens. */
const UNIFORM_EVENTS = published('enqueued', 'ins', '$3::text', 'd.route', 'NULL::text', '$11::bigint', '$12');

/**
 * Every statement of the backend, by name, with `{s}` for its (quoted) schema. Each runs as a named
 * prepared statement on its connection (see `store.ts`). Parameters are positional, as PostgreSQL's.
 */
export const SQL = {
  // Enqueue. Rows of a batch in one INSERT from arrays (one per column); a stored (id, dix) is skipped.
  insertRows: `INSERT INTO {s}.jobs (${INSERT_COLUMNS.map(([c]) => c).join(', ')})
    SELECT * FROM json_to_recordset($1::json) AS r(${INSERT_COLUMNS.map(([c, type]) => `${c} ${type}`).join(', ')})
    ON CONFLICT (id, dix) DO NOTHING RETURNING id, dix`,
  // A batch of direct jobs of one route that differ only in id and arguments (what pushMany of one
  // job makes): their first rows from two arrays, the other columns once, and their `enqueued` events
  // published in the same statement. Returns how many went in and, only when some id was stored
  // already, the ids that did.
  insertUniform: `WITH ins AS (
      ${UNIFORM_ROWS}
      ON CONFLICT (id, dix) DO NOTHING RETURNING k, id, dix, route),
    counted AS (SELECT COUNT(*)::int AS n FROM ins),
    ${UNIFORM_EVENTS}
    SELECT c.n, CASE WHEN c.n < cardinality($1::text[]) THEN (SELECT array_agg(id) FROM ins) END AS inserted,
      (SELECT COUNT(*) FROM published) AS notified
    FROM counted c`,
  // The same batch as its own transaction, when its ids are new (see `enqueueAlone`): the queue's
  // directory entry, then a plain INSERT, which fails on a stored id (unique violation, nothing written)
  // where ON CONFLICT would check every id before inserting it (a third of the statement's time).
  insertUniformNew: `WITH listed AS (INSERT INTO {s}.queues (name) VALUES ($3) ON CONFLICT DO NOTHING),
    ins AS (
      ${UNIFORM_ROWS}
      RETURNING k, id, dix, route),
    ${UNIFORM_EVENTS}
    SELECT (SELECT COUNT(*) FROM published) AS notified`,
  // One direct job of one route, with its queue's directory entry, its event published in the same
  // statement (see `enqueueOne`).
  enqueueOne: `WITH listed AS (INSERT INTO {s}.queues (name) VALUES ($2) ON CONFLICT DO NOTHING),
    ins AS (
      INSERT INTO {s}.jobs (id, dix, queue, route, name, args, priority, created_at, options, state, run_at, max_attempts)
      VALUES ($1, 0, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10)
      ON CONFLICT (id, dix) DO NOTHING RETURNING id, route)
    SELECT id, CASE WHEN ${heard('$2::text', 'enqueued')}
      THEN pg_notify($11, nextval('{s}.event_batches')::text || chr(10) || json_build_array(0, 'enqueued', $2::text, id, id || '.0', route, NULL, $12::bigint)::text) END
    FROM ins`,
  storedJobs: 'SELECT id, queue, COUNT(*) FILTER (WHERE dix >= 0)::int AS n FROM {s}.jobs WHERE id = ANY($1::text[]) GROUP BY id, queue',
  // One dedupe key at a time: enqueues of the same key wait for each other until commit.
  lockDedupe: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 7))',
  findPendingByDedupe: 'SELECT id FROM {s}.jobs WHERE queue = $1 AND dedupe_key = $2 AND ended_at IS NULL LIMIT 1',
  liveWorkers: 'SELECT * FROM {s}.workers WHERE queue = $1 AND expires_at >= $2 ORDER BY started_at, id',

  // Claim, one statement: whether the route or the queue is paused; the route's distinct queued
  // priorities (a loose index scan), then per priority its due rows in run_at order, skipping rows
  // another transaction holds; their started events; when fewer than the limit were taken, the next run
  // time. One row answers even when nothing was claimed: it says whether paused, and the next run time.
  // A route where grouped jobs wait, or with limits, is claimed by turns instead (`by_turns`, see claim-by-turns.ts).
  claim: `WITH RECURSIVE paused AS (
      SELECT EXISTS (SELECT 1 FROM {s}.paused WHERE queue = $1 AND route IN ($2, '${WHOLE_QUEUE}')) AS yes,
        EXISTS (SELECT 1 FROM {s}.jobs WHERE queue = $1 AND route = $2 AND state = 0 AND grp IS NOT NULL)
          OR EXISTS (SELECT 1 FROM {s}.limits WHERE queue = $1 AND scope = 1 AND key = $2) AS by_turns),
    p(priority) AS (
      SELECT MAX(priority) FROM {s}.jobs WHERE queue = $1 AND route = $2 AND state = 0 AND grp IS NULL AND NOT (SELECT yes OR by_turns FROM paused)
      UNION ALL
      SELECT (SELECT MAX(priority) FROM {s}.jobs WHERE queue = $1 AND route = $2 AND state = 0 AND grp IS NULL AND priority < p.priority)
      FROM p WHERE p.priority IS NOT NULL),
    -- Per priority, its due rows in run_at order, locked as the index scan finds them, skipping rows
    -- other claims hold (so a claim next to another still finds as many as are free), then the best
    -- of them. Rows locked at a lower priority but not taken are free again when the statement ends.
    -- A locked row is found again by its ctid (it cannot move while this statement holds its lock), by a
    -- TID scan of the array of them: joined to due, the planner read the whole table to hash it.
    due AS (
      SELECT d.tid FROM p CROSS JOIN LATERAL (
        SELECT ctid AS tid, k, run_at FROM {s}.jobs
        WHERE queue = $1 AND route = $2 AND state = 0 AND grp IS NULL AND priority = p.priority AND run_at <= $3
          AND (target_worker IS NULL OR target_worker = $4)
        ORDER BY run_at, k LIMIT $5 FOR UPDATE SKIP LOCKED) d
      WHERE p.priority IS NOT NULL
      ORDER BY p.priority DESC, d.run_at, d.k LIMIT $5),
    claimed AS (
      UPDATE {s}.jobs j SET state = 1, worker_id = $4, lease_until = $6, attempts = j.attempts + 1, started_at = $3, cancel_requested = NULL
      WHERE j.ctid = ANY (ARRAY(SELECT tid FROM due))
      RETURNING j.k, j.id, j.dix, j.target_worker, j.priority, j.run_at, j.attempts, j.max_attempts, j.recoveries, j.finished_at, j.outcome,
        j.progress, j.cancel_requested, j.name, j.args, j.options, j.fanout, j.grp),
    ${published('started', 'claimed', '$1::text', '$2::text', '$4::text', '$3::bigint', '$7')},
    -- Only when fewer than the limit were claimed: the earliest future run time this worker could claim.
    later AS (
      SELECT CASE WHEN (SELECT COUNT(*) FROM claimed) < $5 THEN (
        SELECT MIN(run_at) FROM {s}.jobs
        WHERE queue = $1 AND route = $2 AND state = 0 AND grp IS NULL AND run_at > $3 AND (target_worker IS NULL OR target_worker = $4)) END AS run_at)
    -- Committed without waiting for the WAL's flush (synchronous_commit off, for this statement's
    -- transaction only): a claim that a server crash forgets leaves its job queued, which then runs
    -- again as after any lost lease, and the worker's writes under that lease are refused. Enqueues and
    -- outcomes stay durable; the next of them flushes the claim with it.
    SELECT (SELECT yes FROM paused) AS paused, (SELECT by_turns AND NOT yes FROM paused) AS by_turns, (SELECT COUNT(*) FROM published) AS notified,
      (SELECT run_at FROM later) AS next_run_at, (SELECT set_config('synchronous_commit', 'off', true)) AS commit_mode, claimed.*
    FROM (SELECT 1) AS one LEFT JOIN claimed ON true`,

  // The claim of a route by turns (claim-by-turns.ts), with the started events of what it took.
  claimByTurns: `WITH answer AS MATERIALIZED (SELECT * FROM {s}.claim_by_turns($1, $2, $4, $3, $5, $6)),
    claimed AS (SELECT * FROM answer WHERE id IS NOT NULL),
    ${published('started', 'claimed', '$1::text', '$2::text', '$4::text', '$3::bigint', '$7')}
    SELECT (SELECT COUNT(*) FROM published) AS notified,
      EXISTS (SELECT 1 FROM {s}.jobs WHERE queue = $1 AND route = $2 AND state = 0 AND grp IS NOT NULL)
        OR EXISTS (SELECT 1 FROM {s}.limits WHERE queue = $1 AND scope = 1 AND key = $2) AS by_turns,
      answer.* FROM answer`,
  isPaused: `SELECT 1 FROM {s}.paused WHERE queue = $1 AND route IN ($2, '${WHOLE_QUEUE}')`,

  // A lease holder's writes: the lease check is in each statement.
  leaseOf: `SELECT ${LEASE_COLUMNS} FROM {s}.jobs WHERE id = $1 AND dix = $2 FOR UPDATE`,
  // Many completions in one statement: a group's worth, each under its own lease.
  completeMany: `UPDATE {s}.jobs j SET state = 2, finished_at = $1, lease_until = NULL, outcome = c.outcome,
      ended_at = CASE WHEN j.fanout IS NULL THEN $1::bigint END, ended_bad = CASE WHEN j.fanout IS NULL THEN false END
    FROM unnest($2::text[], $3::int[], $4::text[], $5::text[], $6::int[], $7::text[]) AS c(id, dix, queue, worker, attempt, outcome)
    WHERE j.id = c.id AND j.dix = c.dix AND j.queue = c.queue AND j.state = 1 AND j.worker_id = c.worker AND j.attempts = c.attempt
    RETURNING j.id, j.dix, j.route, j.fanout, j.options`,
  // The completions of single-delivery jobs that keep the backend's retention, as one statement and its
  // own transaction: the rows succeeded under their leases, the minute's throughput in the stripe's
  // rows, the events published. Rows it leaves (a lease that did not hold, a job of several deliveries
  // or with a retention of its own) are completed by completeMany in a transaction. Each row is looked
  // up by its key under its lease (`leased`: one probe of the primary key per completion, whatever the
  // plan), then written through its ctid by a TID scan (a row that a concurrent write moved meanwhile
  // no longer matches, and its completion is refused). Joined to the arrays instead, the rows were read
  // through the running index or, in a prepared statement's generic plan, the whole table (6 ms a call
  // at 10,000 rows).
  completeDirect: `WITH ${leased('$10')},
    done AS (
      UPDATE {s}.jobs j SET state = 2, finished_at = $1, lease_until = NULL, outcome = l.outcome, ended_at = $1, ended_bad = false
      FROM leased l WHERE j.ctid = ANY (ARRAY(SELECT tid FROM leased)) AND j.ctid = l.tid
      RETURNING j.k, j.id, j.dix, j.route, j.worker_id),
    ${completedTail()}`,
  // completeDirect for a backend that removes every succeeded job at once (`removeOnComplete: true`):
  // the rows and their log lines deleted under their leases, no row written first and no trim after.
  completeRemoveDirect: `WITH ${leased()},
    done AS (
      DELETE FROM {s}.jobs j WHERE j.ctid = ANY (ARRAY(SELECT tid FROM leased))
      RETURNING j.k, j.id, j.dix, j.route, j.worker_id),
    logs AS (DELETE FROM {s}.logs l USING done d WHERE l.job_id = d.id),
    ${completedTail()}`,
  finishBad: `UPDATE {s}.jobs SET state = $3, finished_at = $4, lease_until = NULL, outcome = $5,
      ended_at = CASE WHEN fanout IS NULL THEN $4::bigint END, ended_bad = CASE WHEN fanout IS NULL THEN true END
    WHERE id = $1 AND dix = $2`,
  requeue: 'UPDATE {s}.jobs SET state = 0, run_at = $3, lease_until = NULL, outcome = $4 WHERE id = $1 AND dix = $2',
  // A rate-limited attempt goes back uncharged: its cap grows by the attempt it used.
  requeueUncharged: 'UPDATE {s}.jobs SET state = 0, run_at = $3, lease_until = NULL, outcome = $4, max_attempts = max_attempts + 1 WHERE id = $1 AND dix = $2',
  hold: `INSERT INTO {s}.group_holds (queue, grp, until) VALUES ($1, $2, $3)
    ON CONFLICT (queue, grp) DO UPDATE SET until = GREATEST({s}.group_holds.until, excluded.until)`,
  // Lease renewals, many in one statement, each under its own lease.
  extendMany: `UPDATE {s}.jobs j SET lease_until = $1
    FROM unnest($2::text[], $3::int[], $4::text[], $5::int[]) AS c(id, dix, worker, attempt)
    WHERE j.id = c.id AND j.dix = c.dix AND j.worker_id = c.worker AND j.attempts = c.attempt AND j.state = 1
    RETURNING j.id, j.dix`,
  setProgress: 'UPDATE {s}.jobs SET progress = $1 WHERE id = $2 AND dix = $3',

  // A delivery's end: the job's first row locked while its open deliveries are counted, so that two
  // deliveries ending at once cannot both see the other still open.
  lockJob: 'SELECT 1 FROM {s}.jobs WHERE id = $1 AND dix = 0 FOR UPDATE',
  siblings: `SELECT COUNT(*) FILTER (WHERE state IN (0, 1))::int AS open, COUNT(*) FILTER (WHERE state IN (3, 4))::int AS bad
    FROM {s}.jobs WHERE id = $1 AND dix >= 0`,
  markEnded: 'UPDATE {s}.jobs SET ended_at = $1, ended_bad = $2 WHERE id = $3 AND dix = 0',
  // Retention, one statement: a batch of the queue's ended jobs of one kind past the rule's age or
  // beyond its newest `count` (ended_at on a job's first row), deleted whole with their log lines.
  // A job of one row is deleted by a statement that re-checks that it is still ended (a retry that
  // reopened it meanwhile keeps it); a job of several rows has its first row locked and re-checked
  // first (a retry locks it too), so it stays whole, and one being retried now is left for the next
  // trim. Returns the jobs deleted.
  // The count's boundary is the newest row past it (OFFSET on the ended index): no ranking of every row.
  trimEnded: `WITH boundary AS (
      SELECT ended_at, k FROM {s}.jobs WHERE queue = $1 AND ended_bad = $2 AND ended_at IS NOT NULL AND $4::bigint IS NOT NULL
      ORDER BY ended_at DESC, k DESC OFFSET $4 LIMIT 1),
    victims AS MATERIALIZED (
      SELECT id, dix, fanout FROM {s}.jobs WHERE queue = $1 AND ended_bad = $2 AND ended_at IS NOT NULL
        AND (($3::bigint IS NOT NULL AND ended_at < $3) OR (ended_at, k) <= (SELECT ended_at, k FROM boundary))
      ORDER BY ended_at, k LIMIT $5),
    single AS (
      DELETE FROM {s}.jobs j USING victims v
      WHERE v.fanout IS NULL AND j.id = v.id AND j.dix = v.dix AND j.ended_at IS NOT NULL RETURNING j.id),
    heads AS (
      SELECT id FROM {s}.jobs WHERE id IN (SELECT id FROM victims WHERE fanout IS NOT NULL) AND dix <= 0 AND ended_at IS NOT NULL
      FOR UPDATE SKIP LOCKED),
    several AS (DELETE FROM {s}.jobs WHERE id IN (SELECT id FROM heads) RETURNING id),
    logs AS (DELETE FROM {s}.logs WHERE job_id IN (SELECT id FROM single UNION ALL SELECT id FROM several))
    SELECT (SELECT COUNT(*) FROM single)::int + (SELECT COUNT(DISTINCT id) FROM several)::int AS n`,
  deleteJob: 'DELETE FROM {s}.jobs WHERE id = $1',
  deleteLogs: 'DELETE FROM {s}.logs WHERE job_id = $1',
  trimThroughput: 'DELETE FROM {s}.throughput WHERE minute < $1',
  throughputSince: `SELECT minute, route, SUM(completed)::int AS completed, SUM(failed)::int AS failed FROM {s}.throughput
    WHERE queue = $1 AND minute >= $2 GROUP BY minute, route ORDER BY minute, route`,

  // Recovery.
  expired: `SELECT ${DELIVERY_COLUMNS}, fanout, options FROM {s}.jobs WHERE queue = $1 AND state = 1 AND lease_until < $2 FOR UPDATE SKIP LOCKED`,
  orphaned: `SELECT ${DELIVERY_COLUMNS}, fanout, options FROM {s}.jobs d WHERE d.queue = $1 AND d.target_worker IS NOT NULL AND d.state = 0
    AND NOT EXISTS (SELECT 1 FROM {s}.workers w WHERE w.id = d.target_worker AND w.queue = $1 AND w.expires_at >= $2) LIMIT 500 FOR UPDATE OF d SKIP LOCKED`,
  recover: 'UPDATE {s}.jobs SET state = 0, run_at = $3, lease_until = NULL, recoveries = recoveries + 1 WHERE id = $1 AND dix = $2 AND state = 1',

  // Changes by job id.
  openDeliveries: `SELECT ${DELIVERY_COLUMNS}, fanout, options FROM {s}.jobs WHERE id = $1 AND queue = $2 AND dix >= 0 AND state IN (0, 1) ORDER BY dix FOR UPDATE`,
  requestCancel: 'UPDATE {s}.jobs SET cancel_requested = true WHERE id = $1 AND dix = $2',
  queuedOf: 'SELECT dix, route FROM {s}.jobs WHERE id = $1 AND queue = $2 AND dix >= 0 AND state = 0 ORDER BY dix FOR UPDATE',
  setRunAt: 'UPDATE {s}.jobs SET run_at = $3 WHERE id = $1 AND dix = $2',
  endedBadOf: 'SELECT dix, route, state FROM {s}.jobs WHERE id = $1 AND queue = $2 AND dix >= 0 AND state IN (3, 4) ORDER BY dix FOR UPDATE',
  retry: `UPDATE {s}.jobs SET state = 0, run_at = $3, max_attempts = attempts - recoveries + $4, worker_id = NULL, lease_until = NULL,
      finished_at = NULL, outcome = NULL, cancel_requested = NULL, ended_at = NULL, ended_bad = NULL
    WHERE id = $1 AND dix = $2`,
  reopen: 'UPDATE {s}.jobs SET ended_at = NULL, ended_bad = NULL WHERE id = $1 AND dix = 0',
  lockJobRows: 'SELECT 1 FROM {s}.jobs WHERE id = $1 FOR UPDATE',
  removable: 'SELECT queue, COUNT(*) FILTER (WHERE state = 1)::int AS running FROM {s}.jobs WHERE id = $1 GROUP BY queue',

  // Reads.
  rowsOf: `SELECT ${DELIVERY_COLUMNS}, ${HEADER_COLUMNS} FROM {s}.jobs WHERE id = $1 ORDER BY dix`,
  rowsOfJobs: `SELECT ${DELIVERY_COLUMNS}, ${HEADER_COLUMNS} FROM {s}.jobs WHERE id = ANY($1::text[]) AND queue = $2 ORDER BY id, dix`,
  counts: `SELECT route, state, (state = 0 AND run_at > $2) AS later, COUNT(*)::int AS n FROM {s}.jobs
    WHERE queue = $1 AND dix >= 0 GROUP BY 1, 2, 3`,
  // Queue names: the directory (a queue is listed by its first enqueue), workers and schedules.
  queueNames: 'SELECT name AS queue FROM {s}.queues UNION SELECT queue FROM {s}.workers UNION SELECT queue FROM {s}.schedules ORDER BY 1',
  listQueue: 'INSERT INTO {s}.queues (name) VALUES ($1) ON CONFLICT DO NOTHING',

  // Listing by state, each from its index, keyset-paged.
  listQueued: `SELECT k, id, route, priority, run_at FROM {s}.jobs WHERE queue = $1 AND state = 0 AND ($2::boolean IS NULL OR (run_at > $3) = $2)
      AND ($4::text IS NULL OR (route, -priority, run_at, k) > ($4, $5::int, $6::bigint, $7::bigint))
    ORDER BY route, priority DESC, run_at, k LIMIT $8`,
  listRunning: `SELECT k, id, lease_until FROM {s}.jobs WHERE queue = $1 AND state = 1
      AND ($2::bigint IS NULL OR (lease_until, k) > ($2, $3::bigint))
    ORDER BY lease_until, k LIMIT $4`,
  listEnded: `SELECT k, id, ended_at FROM {s}.jobs WHERE queue = $1 AND ended_bad = $2 AND ended_at IS NOT NULL
      AND ($3::bigint IS NULL OR (ended_at, k) < ($3, $4::bigint))
    ORDER BY ended_at DESC, k DESC LIMIT $5`,

  // Groups and limits (scope 0: a group, '*' the default; scope 1: a route).
  limitsOf: 'SELECT concurrency, rate_max, rate_per_ms FROM {s}.limits WHERE queue = $1 AND scope = $2 AND key = $3',
  setLimits: `INSERT INTO {s}.limits (queue, scope, key, concurrency, rate_max, rate_per_ms) VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (queue, scope, key) DO UPDATE SET concurrency = excluded.concurrency, rate_max = excluded.rate_max, rate_per_ms = excluded.rate_per_ms`,
  deleteLimits: 'DELETE FROM {s}.limits WHERE queue = $1 AND scope = $2 AND key = $3',
  // Group keys after a cursor with running rows (a loose scan of the running index), own limits or a hold.
  groupKeysAfter: `WITH RECURSIVE running(grp) AS (
      SELECT MIN(grp) FROM {s}.jobs WHERE queue = $1 AND state = 1 AND grp IS NOT NULL AND grp > $2
      UNION ALL
      SELECT (SELECT MIN(grp) FROM {s}.jobs WHERE queue = $1 AND state = 1 AND grp IS NOT NULL AND grp > r.grp) FROM running r WHERE r.grp IS NOT NULL)
    SELECT grp FROM (SELECT grp FROM running WHERE grp IS NOT NULL LIMIT $3) r
    UNION SELECT key FROM {s}.limits WHERE queue = $1 AND scope = 0 AND key <> '*' AND key > $2
    UNION SELECT grp FROM {s}.group_holds WHERE queue = $1 AND grp > $2 AND until > $4`,
  // The routes of a queue with grouped rows queued (a loose scan of the grouped queued index).
  groupedRoutes: `WITH RECURSIVE r(route) AS (
      SELECT MIN(route) FROM {s}.jobs WHERE queue = $1 AND state = 0 AND grp IS NOT NULL
      UNION ALL
      SELECT (SELECT MIN(route) FROM {s}.jobs WHERE queue = $1 AND state = 0 AND grp IS NOT NULL AND route > r.route) FROM r WHERE r.route IS NOT NULL)
    SELECT route FROM r WHERE route IS NOT NULL`,
  // A route's groups with rows queued after a key, in key order (a loose scan of the grouped queued index).
  queuedGroupsAfter: `WITH RECURSIVE g(grp) AS (
      SELECT MIN(grp) FROM {s}.jobs WHERE queue = $1 AND route = $2 AND state = 0 AND grp IS NOT NULL AND grp > $3
      UNION ALL
      SELECT (SELECT MIN(grp) FROM {s}.jobs WHERE queue = $1 AND route = $2 AND state = 0 AND grp IS NOT NULL AND grp > g.grp) FROM g WHERE g.grp IS NOT NULL)
    SELECT grp FROM g WHERE grp IS NOT NULL LIMIT $4`,
  // Keys in the store's order, the first of them.
  orderKeys: 'SELECT grp FROM unnest($1::text[]) AS k(grp) ORDER BY grp LIMIT $2',
  // One group's counts, hold and own limits.
  groupInfo: `SELECT (SELECT COUNT(*) FROM {s}.jobs WHERE queue = $1 AND route = ANY($3::text[]) AND grp = $2 AND state = 0)::int AS queued,
      (SELECT COUNT(*) FROM {s}.jobs WHERE queue = $1 AND grp = $2 AND state = 1)::int AS running,
      (SELECT until FROM {s}.group_holds WHERE queue = $1 AND grp = $2 AND until > $4) AS held_until,
      l.concurrency, l.rate_max, l.rate_per_ms
    FROM (SELECT 1) one LEFT JOIN {s}.limits l ON l.queue = $1 AND l.scope = 0 AND l.key = $2`,
  // What no window or hold needs any more: starts older than the queue's longest rate (the server's clock), holds that ended.
  dropEndedLimits: `WITH starts AS (
      DELETE FROM {s}.starts WHERE queue = $1
        AND at <= (extract(epoch FROM clock_timestamp()) * 1000)::bigint - COALESCE((SELECT MAX(rate_per_ms) FROM {s}.limits WHERE queue = $1), 0))
    DELETE FROM {s}.group_holds WHERE queue = $1 AND until <= $2`,

  // Pauses, logs, call records.
  pause: 'INSERT INTO {s}.paused (queue, route, since) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
  unpause: 'DELETE FROM {s}.paused WHERE queue = $1 AND route = $2',
  pausedOf: 'SELECT route FROM {s}.paused WHERE queue = $1 ORDER BY route',
  insertLogs: `INSERT INTO {s}.logs (job_id, delivery_id, at, stream, line)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[])`,
  logsOf: 'SELECT delivery_id, at, stream, line FROM {s}.logs WHERE job_id = $1 ORDER BY id',
  insertCallRecord: 'INSERT INTO {s}.call_records (queue, name, at, record) VALUES ($1, $2, $3, $4)',
  callRecords: 'SELECT record FROM {s}.call_records WHERE queue = $1 ORDER BY seq DESC LIMIT $2',
  callRecordsNamed: 'SELECT record FROM {s}.call_records WHERE queue = $1 AND name = $2 ORDER BY seq DESC LIMIT $3',

  // Workers.
  upsertWorker: `INSERT INTO {s}.workers (id, queue, routes, hostname, pid, started_at, last_seen_at, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (id) DO UPDATE SET routes = excluded.routes, last_seen_at = excluded.last_seen_at, expires_at = excluded.expires_at, state = 'running'`,
  liveWorker: 'SELECT * FROM {s}.workers WHERE id = $1 AND queue = $2 AND expires_at >= $3 FOR UPDATE',
  heartbeat: 'UPDATE {s}.workers SET last_seen_at = $2, expires_at = $3, state = $4, running_job_ids = $5, command = $6 WHERE id = $1',
  setCommand: 'UPDATE {s}.workers SET command = $1 WHERE id = $2 AND queue = $3 AND expires_at >= $4',
  deleteWorker: 'DELETE FROM {s}.workers WHERE id = $1',

  // Schedules: every change bumps the version, so a firing (a compare-and-set on it) loses to any change since.
  scheduleGet: 'SELECT * FROM {s}.schedules WHERE queue = $1 AND id = $2 FOR UPDATE',
  scheduleList: 'SELECT * FROM {s}.schedules WHERE queue = $1 ORDER BY id',
  scheduleInsert: `INSERT INTO {s}.schedules (queue, id, definition, state, next_run_at, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT DO NOTHING`,
  scheduleRedefine: `UPDATE {s}.schedules SET definition = $3, state = $4, next_run_at = $5, waiting_job_id = NULL, version = version + 1, updated_at = $6
    WHERE queue = $1 AND id = $2`,
  schedulePause: 'UPDATE {s}.schedules SET paused = $1, version = version + 1, updated_at = $2 WHERE queue = $3 AND id = $4',
  scheduleRemove: 'DELETE FROM {s}.schedules WHERE queue = $1 AND id = $2',
  scheduleFire: `UPDATE {s}.schedules SET next_run_at = $4, waiting_job_id = $5, fired_count = fired_count + 1, last_fired_at = $6,
      last_job_id = $7, version = version + 1, updated_at = $6
    WHERE queue = $1 AND id = $2 AND version = $3 AND NOT paused`,
  scheduleAdvance: `UPDATE {s}.schedules SET next_run_at = $4, state = $5, waiting_job_id = NULL, version = version + 1, updated_at = $6
    WHERE queue = $1 AND id = $2 AND version = $3`,

  // Says that a subscriber hears event types of a queue for $3 ms from now (the server's clock), unless
  // another's time ends later (see `heard`).
  hear: `INSERT INTO {s}.listeners (queue, type, until)
    SELECT $1, t, (extract(epoch from clock_timestamp()) * 1000)::bigint + $3 FROM unnest($2::text[]) AS t
    ON CONFLICT (queue, type) DO UPDATE SET until = GREATEST({s}.listeners.until, excluded.until)`,

  // What closes a transaction, one statement: the throughput it counted, added to its stripe's rows
  // (one row per queue, route and minute in the arrays), and its events, one NOTIFY per part of the
  // payload, all numbered by one batch number.
  closeTx: `WITH counted AS (
      INSERT INTO {s}.throughput (queue, route, minute, stripe, completed, failed)
      SELECT queue, route, minute, $1, completed, failed FROM unnest($2::text[], $3::text[], $4::bigint[], $5::int[], $6::int[]) AS c(queue, route, minute, completed, failed)
      ON CONFLICT (queue, minute, route, stripe) DO UPDATE SET completed = {s}.throughput.completed + excluded.completed,
        failed = {s}.throughput.failed + excluded.failed)
    SELECT pg_notify($7, b.n::text || chr(10) || part) FROM (SELECT nextval('{s}.event_batches') AS n) b, unnest($8::text[]) part`,
} as const;

/**
 * The CTE `leased` of the direct completions: per completion of the arrays $2 (ids), $3 (dix), $4
 * (workers), $5 (attempts) and, when given, `outcomes` (results), the ctid of its row if that is a
 * running single-delivery job of queue $6 under that lease, keeping the backend's retention. The queue
 * and the state are compared with IS NOT DISTINCT FROM, which no index serves, so that the primary key
 * is the only index the planner can use: with `state = 1` it may read the running index whole for each
 * completion (its statistics saying that it is nearly empty).
 */
function leased(outcomes?: string): string {
  // LATERAL with LIMIT: a subquery the planner cannot flatten into a join.
  return `leased AS MATERIALIZED (
      SELECT r.tid${outcomes ? ', c.outcome' : ''}
      FROM unnest($2::text[], $3::int[], $4::text[], $5::int[]${outcomes ? `, ${outcomes}::text[]` : ''}) AS c(id, dix, worker, attempt${outcomes ? ', outcome' : ''})
      CROSS JOIN LATERAL (
        SELECT j.ctid AS tid FROM {s}.jobs j
        WHERE j.id = c.id AND j.dix = c.dix AND j.queue IS NOT DISTINCT FROM $6::text AND j.state IS NOT DISTINCT FROM 1 AND j.worker_id = c.worker
          AND j.attempts = c.attempt AND j.fanout IS NULL AND (j.options IS NULL OR strpos(j.options, '"removeOnComplete"') = 0)
        LIMIT 1) r)`;
}

/**
 * What the direct completions end with, over their CTE `done`: the minute ($7) of queue $6 counted in
 * stripe $8, a `succeeded` event each on channel $9 ($1 the time), and the rows completed.
 */
function completedTail(): string {
  return `counted AS (
      INSERT INTO {s}.throughput (queue, route, minute, stripe, completed, failed)
      SELECT $6, route, $7, $8, COUNT(*), 0 FROM done GROUP BY route
      ON CONFLICT (queue, minute, route, stripe) DO UPDATE SET completed = {s}.throughput.completed + excluded.completed),
    ${published('succeeded', 'done', '$6::text', 'd.route', 'd.worker_id', '$1::bigint', '$9')}
    SELECT id, dix, (SELECT COUNT(*) FROM published) AS notified FROM done`;
}

/**
 * The CTEs that publish an event per row of CTE `rows` (columns k, id, dix; `d` in the expressions),
 * while a subscriber hears `type` (see `heard`), with NOTIFY on `channel`, in payloads as `encodeEvents`
 * makes them: one batch number, lines numbered in row order, a part cut where the lines pass a multiple
 * of 3,000 bytes. A part holds at most 3,000 bytes and one line, and a line at most about 3,900 (two job
 * ids of 512 three-byte characters, names of 200): under NOTIFY's 8,000. The last CTE is `published`;
 * the statement must read it.
 */
function published(type: string, rows: string, queue: string, route: string, worker: string, at: string, channel: string): string {
  return `batch AS MATERIALIZED (SELECT nextval('{s}.event_batches') AS n),
    lines AS (
      SELECT d.k, json_build_array(row_number() OVER (ORDER BY d.k) - 1, '${type}', ${queue}, d.id, d.id || '.' || d.dix, ${route}, ${worker}, ${at})::text AS line
      FROM ${rows} d WHERE ${heard(queue, type)}),
    parts AS (SELECT k, line, SUM(octet_length(line) + 1) OVER (ORDER BY k) / 3000 AS part FROM lines),
    published AS (
      SELECT pg_notify(${channel}, b.n::text || chr(10) || string_agg(p.line, chr(10) ORDER BY p.k))
      FROM parts p, batch b GROUP BY p.part, b.n)`;
}

/**
 * Whether some subscriber hears events of `type` on `queue` now (the `listeners` table, by the
 * server's clock; see core's `EventInterest`): the busy path's statements publish only then.
 */
function heard(queue: string, type: string): string {
  return `EXISTS (SELECT 1 FROM {s}.listeners WHERE queue = ${queue} AND type = '${type}' AND until > (extract(epoch from statement_timestamp()) * 1000)::bigint)`;
}

/** A statement's name. */
export type StatementName = keyof typeof SQL;

/** A quoted identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
