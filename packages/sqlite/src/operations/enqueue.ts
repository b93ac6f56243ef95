import { SkqError, type WorkerInfo } from '@skq/core';
import { planDeliveries, type DeliveryTarget, type EnqueueResult, type NewJob } from '@skq/core/backend';
import { storedOptions } from '../rows.js';
import { ROW_EVENT_CODE, STATE_CODE } from '../schema.js';
import { INSERT_COLUMNS } from '../sqlite-statements.js';
import { rowChanged } from './events.js';
import { nextSeq, type SqliteStore } from './store.js';
import { liveWorkers } from './workers-and-commands.js';

/** The most rows one INSERT statement writes: a bulk enqueue is a few statements, each prepared once per size. */
const ROWS_PER_INSERT = 100;

/** A row to insert, named as the INSERT binds it. */
type RowValues = ReturnType<typeof rowValues>;

/**
 * Enqueue, in one write transaction (a schedule's firing also enqueues through here). For each job,
 * in order:
 * - Reads: with a dedupe key, the job id's stored queue and delivery count, then the queue's job
 *   with that key and a queued or running delivery; for the first broadcast, the queue's live workers.
 * - Writes: one row per target (each route, or each route and live worker of a broadcast), queued,
 *   stamped `enqueued`, counted. A job with no target is one row ended at once (shown `cancelled`).
 *   Consecutive jobs of one row each and no dedupe key (nearly every bulk enqueue) are written by
 *   multi-row INSERTs of up to 100 rows.
 * - Returns: its id, whether a pending job with its dedupe key was answered instead, and its
 *   number of deliveries.
 *
 * Idempotent by job id: a stored id writes nothing and is answered as stored (the insert is tried
 * first; the lookup runs only for the ids it did not insert). An id held by another queue of the
 * file throws `ID_CONFLICT`: job ids are unique per file.
 */
export function enqueue(s: SqliteStore, jobs: NewJob[]): EnqueueResult[] {
  const now = Date.now();
  let workers: WorkerInfo[] | null = null;
  const results: EnqueueResult[] = new Array(jobs.length);
  // Jobs of one row each waiting for a multi-row INSERT: their index in `jobs`, and the row.
  let batch: { index: number; job: NewJob; row: RowValues }[] = [];
  // An id twice in one INSERT would be inserted once and reported twice: the second waits for the next.
  const batchIds = new Set<string>();
  const storedResult = (job: NewJob): EnqueueResult | null => {
    const stored = s.stmt.storedJob.get(job.id) as { queue: string | null; n: number };
    if (stored.queue === null) return null;
    if (stored.queue !== job.queue) throw idConflict(job, stored.queue);
    return { id: job.id, deduped: false, deliveries: stored.n };
  };
  const flush = () => {
    for (let start = 0; start < batch.length; start += ROWS_PER_INSERT) {
      const chunk = batch.slice(start, start + ROWS_PER_INSERT);
      const skipped = insertRows(s, chunk.map((c) => c.row));
      for (const { index, job, row } of chunk) {
        if (skipped?.has(job.id)) {
          results[index] = storedResult(job)!;
          continue;
        }
        s.tallies.count(job.queue, row.route, STATE_CODE.queued, 1);
        rowChanged(s, row.seq, job.queue, 'enqueued', job.id, `${job.id}.0`, row.route, row.target_worker, now);
        results[index] = { id: job.id, deduped: false, deliveries: 1 };
      }
    }
    batch = [];
    batchIds.clear();
  };
  jobs.forEach((job, index) => {
    if (job.dedupeKey) {
      flush();
      const stored = storedResult(job);
      if (stored) return void (results[index] = stored);
      const existing = s.stmt.findPendingByDedupe.get(job.queue, job.dedupeKey) as { id: string } | undefined;
      if (existing) return void (results[index] = { id: existing.id, deduped: true, deliveries: 0 });
    }
    if (job.type === 'broadcast') workers ??= liveWorkers(s, job.queue, now);
    const targets = planDeliveries(job.routes, job.type, workers ?? []);
    if (targets.length === 1 && !job.dedupeKey) {
      if (batchIds.has(job.id)) flush();
      batchIds.add(job.id);
      batch.push({ index, job, row: rowValues(s, job, targets, 0) });
      return;
    }
    flush();
    results[index] = enqueueRows(s, job, targets, now) ?? storedResult(job)!;
  });
  flush();
  return results;
}

/** A job of no row or several: its rows one statement each. Returns null when its id is stored already. */
function enqueueRows(s: SqliteStore, job: NewJob, targets: DeliveryTarget[], now: number): EnqueueResult | null {
  if (targets.length === 0) {
    const row = { ...rowValues(s, job, targets, -1), state: STATE_CODE.cancelled, ended_at: now, ended_bad: 1, ev: ROW_EVENT_CODE.cancelled };
    if (s.stmt.insertRow.run(row).changes === 0) return null;
    rowChanged(s, row.seq, job.queue, 'cancelled', job.id, null, null, null, now);
    return { id: job.id, deduped: false, deliveries: 0 };
  }
  for (const dix of targets.keys()) {
    const row = rowValues(s, job, targets, dix);
    // A job id seen before is the rare case: insert first and look only when the insert did nothing.
    if (s.stmt.insertRow.run(row).changes === 0) return null;
    s.tallies.count(job.queue, row.route, STATE_CODE.queued, 1);
    rowChanged(s, row.seq, job.queue, 'enqueued', job.id, `${job.id}.${dix}`, row.route, row.target_worker, now);
  }
  return { id: job.id, deduped: false, deliveries: targets.length };
}

/** The row of delivery `dix` of `job` (index -1: the row of a job with no delivery), stamped with the next change sequence. */
function rowValues(s: SqliteStore, job: NewJob, targets: DeliveryTarget[], dix: number) {
  const target = targets[dix];
  return {
    id: job.id,
    dix,
    queue: job.queue,
    route: target?.route ?? null,
    target_worker: target?.targetWorker ?? null,
    name: job.name,
    args: JSON.stringify(job.args),
    // Stored only when the rows' routes do not say it: several routes, or no row with a route.
    routes: job.routes.length === 1 && targets.length > 0 ? null : JSON.stringify(job.routes),
    broadcast: job.type === 'broadcast' ? 1 : null,
    fanout: targets.length > 1 ? targets.length : null,
    priority: job.priority,
    created_at: job.createdAt,
    options: storedOptions(job.options),
    dedupe_key: job.dedupeKey ?? null,
    state: STATE_CODE.queued as number,
    run_at: job.runAt,
    max_attempts: job.options.attempts,
    ended_at: null as number | null,
    ended_bad: null as number | null,
    seq: nextSeq(s),
    ev: ROW_EVENT_CODE.enqueued as number,
    grp: job.group ?? null,
  };
}

/**
 * Inserts `rows` in one statement, skipping ids stored already. Returns the ids it skipped, or null
 * when it skipped none (nearly always). The insert returns nothing (a RETURNING clause cost several
 * µs a row): when it wrote fewer rows than asked, a row whose stored change sequence is not the one
 * it was given here was stored before.
 */
function insertRows(s: SqliteStore, rows: RowValues[]): Set<string> | null {
  let statement = s.insertMany.get(rows.length);
  if (!statement) s.insertMany.set(rows.length, (statement = s.prepareInsertMany(rows.length)));
  if (statement.run(rows.flatMap(rowParameters)).changes === rows.length) return null;
  const stored = s.stmt.seqsOfFirstRows.all(JSON.stringify(rows.map((row) => row.id))) as { id: string; seq: number }[];
  const given = new Map(rows.map((row) => [row.id, row.seq]));
  return new Set(stored.filter((row) => row.seq !== given.get(row.id)).map((row) => row.id));
}

/** A row's values in {@link INSERT_COLUMNS} order. */
function rowParameters(row: RowValues): unknown[] {
  return INSERT_COLUMNS.map((column) => row[column]);
}

function idConflict(job: NewJob, holder: string): SkqError {
  return new SkqError('ID_CONFLICT', `job id "${job.id}" is taken by queue "${holder}": job ids are unique across the queues of one SQLite file`, {
    context: { jobId: job.id, queue: job.queue, field: 'jobId' },
  });
}
