// The transactions that read jobs: one by id, and a page of the listing. Reads are snapshots, so
// they conflict with nothing.
import { SkqError, type JobRecord } from '@skq/core';
import { type ListJobsQuery } from '@skq/core/backend';
import { unpack } from '../kv/tuple.js';
import type { QueueTransaction } from './queue-transaction.js';
import { toJobRecord, type StoredDelivery, type StoredJob } from './records.js';

/** Read a job. Reads: the job and its deliveries, as snapshots (a read-only transaction conflicts with nothing). Writes nothing. */
export async function readJob(qt: QueueTransaction, jobId: string): Promise<{ job: StoredJob; deliveries: StoredDelivery[] } | null> {
  const job = await qt.job(jobId, true);
  return job ? { job, deliveries: await qt.deliveriesOf(job, true) } : null;
}

/**
 * A job as a record. Reads: the job and its deliveries, as snapshots. Writes nothing. Returns null
 * for a job not stored.
 */
export async function getJob(qt: QueueTransaction, jobId: string): Promise<JobRecord | null> {
  const found = await readJob(qt, jobId);
  return found ? toJobRecord(qt.queue, found.job, found.deliveries, qt.now) : null;
}

/**
 * Refuses a listing position the tuple encoder cannot pack (a forged cursor's 1.5): the position
 * becomes part of a key, so what it cannot encode is the caller's error.
 */
export function checkListPosition(query: ListJobsQuery): void {
  const after = query.after;
  if (after != null && !(typeof after === 'object' && Number.isSafeInteger(after.createdAt) && typeof after.id === 'string')) {
    throw new SkqError('ARGS_INVALID', 'listJobs: after is not a position a listing returned: { createdAt: whole ms, id: string }', { context: { queue: query.queue, field: 'after' } });
  }
}

/**
 * A page of the listing, newest first. Reads: the listing keys before the position, then each
 * job and its deliveries, as snapshots. Writes nothing. Returns the jobs still stored.
 */
export async function listJobs(qt: QueueTransaction, query: ListJobsQuery): Promise<JobRecord[]> {
  const [begin, end] = qt.keys.range('list');
  const upTo = query.after ? qt.keys.key('list', query.after.createdAt, query.after.id) : end;
  const rows = await qt.tr.snapshot.getRange(begin, upTo, { limit: query.limit, reverse: true });
  const found = await Promise.all(rows.map(([key]) => readJob(qt, unpack(key).slice(-1)[0] as string)));
  return found.filter((f) => f !== null).map((f) => toJobRecord(qt.queue, f.job, f.deliveries, qt.now));
}
