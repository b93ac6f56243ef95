import { SkqError, type JobRecord, type JobState, type StateCounts } from '@skq/core';
import { zeroStateCounts, type StateListPage, type StateListQuery } from '@skq/core/backend';
import { toJobRecord, type JobRow } from '../rows.js';
import { STATE_NAME } from '../schema.js';
import { run, type PgTx } from '../store.js';

// What the monitor and the admin calls read: jobs, counts and queue names. Plain reads, each in its
// own transaction (a consistent snapshot for the statements of one read).

/** One job. Reads: the job's rows. Returns its record, or null when it is not there or in another queue. */
export async function getJob(t: PgTx, queue: string, jobId: string): Promise<JobRecord | null> {
  const { rows } = await run<JobRow>(t, 'rowsOf', [jobId]);
  return rows.length && rows[0]!.queue === queue ? toJobRecord(rows, Date.now()) : null;
}

/** Where a page of a state ended: the last row's place in that state's index. */
type Place = (string | number)[];

/**
 * A page of jobs in one state, from that state's index: queued and scheduled rows by route, priority,
 * run time and enqueue order; running rows by lease end; ended jobs newest first (succeeded apart from
 * failed and cancelled). Keyset paging: the cursor is the place of the page's last row, so rows added
 * meanwhile never shift a page. Reads: up to `limit` index rows from the cursor, then those jobs' rows.
 * Returns their records (core checks each job's state) and the next cursor, null after the last page.
 */
export async function listJobsInState(t: PgTx, query: StateListQuery): Promise<StateListPage> {
  const { queue, state, limit } = query;
  const after = query.cursor === null ? null : placeOf(query.cursor);
  let ids: string[];
  let last: Place | null = null;
  if (state === 'queued' || state === 'scheduled') {
    const { rows } = await run<{ k: number; id: string; route: string; priority: number; run_at: number }>(t, 'listQueued', [
      queue, state === 'scheduled', Date.now(), after?.[0] ?? null, after?.[1] ?? null, after?.[2] ?? null, after?.[3] ?? null, limit,
    ]);
    ids = rows.map((r) => r.id);
    const end = rows[rows.length - 1];
    if (end) last = [end.route, -end.priority, end.run_at, end.k];
  } else if (state === 'running') {
    const { rows } = await run<{ k: number; id: string; lease_until: number }>(t, 'listRunning', [queue, after?.[0] ?? null, after?.[1] ?? null, limit]);
    ids = rows.map((r) => r.id);
    const end = rows[rows.length - 1];
    if (end) last = [end.lease_until, end.k];
  } else {
    const { rows } = await run<{ k: number; id: string; ended_at: number }>(t, 'listEnded', [queue, state !== 'succeeded', after?.[0] ?? null, after?.[1] ?? null, limit]);
    ids = rows.map((r) => r.id);
    const end = rows[rows.length - 1];
    if (end) last = [end.ended_at, end.k];
  }
  return { jobs: await jobsOf(t, queue, ids), cursor: ids.length < limit || last === null ? null : JSON.stringify(last) };
}

/** A cursor this listing made: a JSON array of the place's values; anything else is refused with `ARGS_INVALID`. */
function placeOf(cursor: string): Place {
  let place: unknown;
  try {
    place = JSON.parse(cursor);
  } catch {
    place = null;
  }
  if (!Array.isArray(place) || place.length > 4 || !place.every((v) => typeof v === 'string' || typeof v === 'number')) {
    throw new SkqError('ARGS_INVALID', 'invalid list cursor: not one this listing made (pass back the cursor of the previous page)', { context: { field: 'cursor' } });
  }
  return place as Place;
}

/** The jobs of `ids` in `queue`, in that order, each once (a job of several rows is read whole). */
async function jobsOf(t: PgTx, queue: string, ids: string[]): Promise<JobRecord[]> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return [];
  const byId = new Map<string, JobRow[]>();
  for (const row of (await run<JobRow>(t, 'rowsOfJobs', [unique, queue])).rows) {
    const rows = byId.get(row.id);
    if (rows) rows.push(row);
    else byId.set(row.id, [row]);
  }
  const now = Date.now();
  return unique.flatMap((id) => {
    const rows = byId.get(id);
    return rows ? [toJobRecord(rows, now)] : [];
  });
}

/**
 * Delivery counts by route and state, read from the rows (no counter row that every transaction
 * would wait for): queued deliveries whose run_at is still ahead are counted as scheduled.
 */
export async function countByState(t: PgTx, queue: string): Promise<StateCounts> {
  const counts: StateCounts = {};
  const { rows } = await run<{ route: string; state: number; later: boolean; n: number }>(t, 'counts', [queue, Date.now()]);
  for (const row of rows) {
    const route = (counts[row.route] ??= zeroStateCounts());
    route[row.later ? 'scheduled' : (STATE_NAME[row.state] as JobState)] += row.n;
  }
  return counts;
}

/** Queue names. Reads: the directory, workers and schedules. Returns them sorted. */
export async function listQueues(t: PgTx): Promise<string[]> {
  return (await run<{ queue: string }>(t, 'queueNames', [])).rows.map((r) => r.queue);
}
