import { SkqError, type WorkerInfo } from '@skq/core';
import { argsJson, planDeliveries, type DeliveryTarget, type EnqueueResult, type NewJob } from '@skq/core/backend';
import { storedOptions, textOf } from '../rows.js';
import { STATE_CODE } from '../schema.js';
import { INSERT_COLUMNS } from '../sql-text.js';
import { deliveryIdOf, run, type PgTx } from '../store.js';
import { liveWorkers } from './workers-and-commands.js';

/** A row to insert, by column. */
type RowValues = Record<(typeof INSERT_COLUMNS)[number][0], unknown>;

interface Planned {
  index: number;
  job: NewJob;
  rows: RowValues[];
}

/**
 * Enqueue, inside `t` (the backend's transaction, or the caller's: then nothing is visible to
 * workers, and no event is heard, until the caller commits; a rollback leaves no job).
 * - Reads: with a dedupe key, after taking the key's transaction lock, the job id's stored rows and
 *   the queue's pending job with that key; for the first broadcast, the queue's live workers; the
 *   stored rows of any id the INSERT skipped.
 * - Writes: the queue's directory entry (once per process); one row per target (each route, or each
 *   route and live worker of a broadcast), queued. A job with no target is one row ended at once
 *   (shown `cancelled`). A uniform batch (jobs of one definition and route, see `uniformBatch`) is
 *   one INSERT from an array of ids and one of arguments, which publishes its events; the rows of
 *   other batches go in two INSERTs: the first rows, then the others of the jobs whose first row
 *   went in. Events: `enqueued` per delivery (`cancelled` for a job with none), published at commit.
 * - Returns: per job, its id, whether a pending job with its dedupe key was answered instead, and its
 *   number of deliveries.
 *
 * Idempotent by job id: a stored id writes nothing and is answered as stored. An id held by another
 * queue of the schema throws `ID_CONFLICT`, and the caller's transaction rolls the batch back.
 * `uniform` is what {@link uniformBatch} says of `jobs`, passed when the caller has asked it already.
 */
export async function enqueue(t: PgTx, jobs: NewJob[], uniform = isOneStatement(jobs) ? null : uniformBatch(jobs)): Promise<EnqueueResult[]> {
  if (isOneStatement(jobs)) return [await enqueueOne(t, jobs[0]!)];
  const now = Date.now();
  for (const queue of new Set(jobs.map((job) => job.queue))) {
    if (t.store.listedQueues.has(queue)) continue;
    await run(t, 'listQueue', [queue]);
    t.listed.push(queue);
  }
  if (uniform) return enqueueUniform(t, jobs, uniform, now);
  const results: EnqueueResult[] = new Array(jobs.length);
  let workers: WorkerInfo[] | null = null;
  let batch: Planned[] = [];
  // An id twice in one INSERT would be stored once and reported twice: the second waits for the next INSERT.
  const batchIds = new Set<string>();
  const flush = async () => {
    if (batch.length) await insertBatch(t, batch, results, now);
    batch = [];
    batchIds.clear();
  };
  for (const [index, job] of jobs.entries()) {
    if (job.type === 'broadcast') workers ??= await liveWorkers(t, job.queue, now);
    const planned = { index, job, rows: rowsOf(job, planDeliveries(job.routes, job.type, workers ?? []), now) };
    if (job.dedupeKey) {
      await flush();
      // Enqueues of one key take turns: of two at once, the second finds the first's job pending.
      await run(t, 'lockDedupe', [JSON.stringify([t.store.schema, job.queue, job.dedupeKey])]);
      const stored = await storedResults(t, [job]);
      if (stored.has(job.id)) {
        results[index] = stored.get(job.id)!;
        continue;
      }
      const pending = await run<{ id: string }>(t, 'findPendingByDedupe', [job.queue, textOf(job.dedupeKey)]);
      if (pending.rows[0]) {
        results[index] = { id: pending.rows[0].id, deduped: true, deliveries: 0 };
        continue;
      }
      await insertBatch(t, [planned], results, now);
      continue;
    }
    if (batchIds.has(job.id)) await flush();
    batchIds.add(job.id);
    batch.push(planned);
  }
  await flush();
  return results;
}

/**
 * {@link enqueue} as a write that may run alone, each statement its own transaction (`t.alone`): a
 * uniform batch (`uniform`, from {@link uniformBatch}) is then one statement that takes its ids for
 * new: its queue's directory entry, its rows, its events. When one of its ids was stored already, that
 * statement fails and writes nothing, and this returns null: the batch goes again through
 * {@link enqueue} in a transaction, which answers stored ids as they are. Anything else is {@link enqueue}.
 * - Reads: nothing. Writes: the directory entry and the batch's rows, queued; `enqueued` events.
 * - Returns: per job, its id and one delivery; or null, having written nothing.
 */
export async function enqueueAlone(t: PgTx, jobs: NewJob[], uniform: SharedColumns | null): Promise<EnqueueResult[] | null> {
  if (!t.alone || !uniform) return enqueue(t, jobs, uniform);
  const first = jobs[0]!;
  try {
    await run(t, 'insertUniformNew', [
      jobs.map((job) => job.id), jobs.map((job) => argsJson(job.args)), first.queue, first.routes[0], first.name, first.priority, first.createdAt,
      uniform.options, first.runAt, first.options.attempts, Date.now(), t.store.channel,
    ]);
  } catch (err) {
    const { code, constraint } = err as { code?: unknown; constraint?: unknown };
    if (code === '23505' && constraint === 'jobs_pkey') return null;
    throw err;
  }
  t.store.listedQueues.add(first.queue);
  return jobs.map((job) => ({ id: job.id, deduped: false, deliveries: 1 }));
}

/**
 * Whether {@link enqueue} of `jobs` is one statement: one direct job of one route, without a dedupe
 * key or a group (nearly every `fire`). Its directory entry and its event go in that statement.
 */
export function isOneStatement(jobs: NewJob[]): boolean {
  const [job] = jobs;
  return jobs.length === 1 && job!.type === 'direct' && job!.routes.length === 1 && !job!.dedupeKey && !job!.group;
}

/** What the jobs of a uniform batch share, stored once (see {@link uniformBatch}). */
export interface SharedColumns {
  options: string | null;
}

/**
 * Whether `jobs` are a uniform batch: direct jobs of one queue and one route, without dedupe keys or groups,
 * with distinct ids, that differ only in id and arguments (what `pushMany` of one job definition makes).
 * Returns what they share, or null.
 */
export function uniformBatch(jobs: NewJob[]): SharedColumns | null {
  const first = jobs[0]!;
  if (first.type !== 'direct' || first.routes.length !== 1 || first.dedupeKey || first.group) return null;
  const options = storedOptions(first.options);
  const ids = new Set<string>();
  for (const job of jobs) {
    if (job.type !== 'direct' || job.routes.length !== 1 || job.routes[0] !== first.routes[0] || job.dedupeKey || job.group || job.queue !== first.queue ||
      job.name !== first.name || job.priority !== first.priority || job.createdAt !== first.createdAt || job.runAt !== first.runAt ||
      job.options.attempts !== first.options.attempts || storedOptions(job.options) !== options || ids.has(job.id)) return null;
    ids.add(job.id);
  }
  return { options };
}

/**
 * A uniform batch in one statement: the rows from an array of ids and one of arguments, their events
 * published by the statement. Reads, only when some id was stored already: those jobs, to answer as
 * they are (an id of another queue throws `ID_CONFLICT`, and the transaction rolls the batch back).
 */
async function enqueueUniform(t: PgTx, jobs: NewJob[], shared: SharedColumns, now: number): Promise<EnqueueResult[]> {
  const first = jobs[0]!;
  const ids = jobs.map((job) => job.id);
  const { rows } = await run<{ n: number; inserted: string[] | null }>(t, 'insertUniform', [
    ids, jobs.map((job) => argsJson(job.args)), first.queue, first.routes[0], first.name, first.priority, first.createdAt, shared.options,
    first.runAt, first.options.attempts, now, t.store.channel,
  ]);
  const inserted = rows[0]!.inserted === null ? null : new Set(rows[0]!.inserted);
  const skipped = inserted === null ? [] : jobs.filter((job) => !inserted.has(job.id));
  const stored = skipped.length ? await storedResults(t, skipped) : null;
  return jobs.map((job) => (stored?.has(job.id) ? stored.get(job.id)! : { id: job.id, deduped: false, deliveries: inserted === null || inserted.has(job.id) ? 1 : 0 }));
}

/**
 * One direct job of one route, in one statement: its queue listed in the directory, its row inserted
 * (skipped when the id is stored) and its `enqueued` event published. Reads, only when the id was stored: that job, to answer as it is.
 */
async function enqueueOne(t: PgTx, job: NewJob): Promise<EnqueueResult> {
  const { rows } = await run(t, 'enqueueOne', [
    job.id, job.queue, job.routes[0], job.name, argsJson(job.args), job.priority, job.createdAt, storedOptions(job.options), job.runAt,
    job.options.attempts, t.store.channel, Date.now(),
  ]);
  if (rows.length === 1) return { id: job.id, deduped: false, deliveries: 1 };
  return (await storedResults(t, [job])).get(job.id) ?? { id: job.id, deduped: false, deliveries: 0 };
}

/** Inserts the rows of `batch`; fills in each job's result. */
async function insertBatch(t: PgTx, batch: Planned[], results: EnqueueResult[], now: number): Promise<void> {
  const inserted = new Set((await insertRows(t, batch.map((p) => p.rows[0]!))).map((r) => r.id));
  const more = batch.filter((p) => inserted.has(p.job.id) && p.rows.length > 1).flatMap((p) => p.rows.slice(1));
  if (more.length) await insertRows(t, more);
  const skipped = batch.filter((p) => !inserted.has(p.job.id)).map((p) => p.job);
  const stored = skipped.length ? await storedResults(t, skipped) : new Map<string, EnqueueResult>();
  for (const { index, job, rows } of batch) {
    if (!inserted.has(job.id)) {
      results[index] = stored.get(job.id) ?? { id: job.id, deduped: false, deliveries: 0 };
      continue;
    }
    const first = rows[0]!;
    if (first.dix === -1) {
      t.events.push({ type: 'cancelled', queue: job.queue, jobId: job.id, deliveryId: null, route: null, workerId: null, at: now });
      results[index] = { id: job.id, deduped: false, deliveries: 0 };
      continue;
    }
    for (const row of rows) {
      const deliveryId = deliveryIdOf(job.id, row.dix as number);
      t.events.push({ type: 'enqueued', queue: job.queue, jobId: job.id, deliveryId, route: row.route as string, workerId: row.target_worker as string | null, at: now });
    }
    results[index] = { id: job.id, deduped: false, deliveries: rows.length };
  }
}

/** The stored job of each id in `jobs`: its result as a resent enqueue answers it. Throws `ID_CONFLICT` for an id of another queue. */
async function storedResults(t: PgTx, jobs: NewJob[]): Promise<Map<string, EnqueueResult>> {
  const found = await run<{ id: string; queue: string; n: number }>(t, 'storedJobs', [jobs.map((j) => j.id)]);
  const byId = new Map(found.rows.map((r) => [r.id, r]));
  const results = new Map<string, EnqueueResult>();
  for (const job of jobs) {
    const stored = byId.get(job.id);
    if (!stored) continue;
    if (stored.queue !== job.queue) {
      throw new SkqError('ID_CONFLICT', `job id "${job.id}" is taken by queue "${stored.queue}": job ids are unique across the queues of one schema`, {
        context: { jobId: job.id, queue: job.queue, field: 'jobId' },
      });
    }
    results.set(job.id, { id: job.id, deduped: false, deliveries: stored.n });
  }
  return results;
}

/** The rows of `job`: one per target, or one ended row (index -1) when it has none. */
function rowsOf(job: NewJob, targets: DeliveryTarget[], now: number): RowValues[] {
  // Stored only when the rows' routes do not say it: several routes, or no row with a route.
  const routes = job.routes.length === 1 && targets.length > 0 ? null : JSON.stringify(job.routes);
  const args = argsJson(job.args);
  const options = storedOptions(job.options);
  const row = (dix: number, route: string | null, targetWorker: string | null, state: number, ended: boolean): RowValues => ({
    id: job.id,
    dix,
    queue: job.queue,
    route,
    target_worker: targetWorker,
    name: job.name,
    args,
    routes,
    broadcast: job.type === 'broadcast' ? true : null,
    fanout: targets.length > 1 ? targets.length : null,
    priority: job.priority,
    created_at: job.createdAt,
    options,
    // The key marks the job pending on its first row only, which carries the job's end.
    dedupe_key: dix <= 0 && job.dedupeKey ? textOf(job.dedupeKey) : null,
    state,
    run_at: job.runAt,
    max_attempts: job.options.attempts,
    ended_at: ended ? now : null,
    ended_bad: ended ? true : null,
    grp: job.group ?? null,
  });
  if (targets.length === 0) return [row(-1, null, null, STATE_CODE.cancelled, true)];
  return targets.map((target, dix) => row(dix, target.route, target.targetWorker ?? null, STATE_CODE.queued, false));
}

/** Inserts `rows` in one statement, each column an array; skips stored (id, dix). Returns the rows inserted. */
async function insertRows(t: PgTx, rows: RowValues[]): Promise<{ id: string; dix: number }[]> {
  return (await run<{ id: string; dix: number }>(t, 'insertRows', [JSON.stringify(rows)])).rows;
}
