// Reads for the monitor and the API: one job, a page of jobs, counts by state, throughput, the queues.
// A job is a header document plus its deliveries, or, with one delivery, that delivery alone
// (`solo`): each read looks in both places.
import type { Filter } from 'mongodb';
import { type JobRecord, type JobState, type StateCounts } from '@skq/core';
import { zeroStateCounts, type ListJobsQuery, type ThroughputBucket } from '@skq/core/backend';
import { headerOfSolo, toJobRecord, type DeliveryDoc, type JobDoc } from '../documents.js';
import type { MongoStore } from './store.js';

/** One job. Reads: its header and its deliveries, at once. Returns it, or null when neither is stored. */
export async function getJob(store: MongoStore, queue: string, jobId: string): Promise<JobRecord | null> {
  const [job, deliveries] = await Promise.all([store.c.jobs.findOne({ _id: jobId, queue }), store.c.deliveries.find({ jobId, queue }).toArray()]);
  const header = job ?? (deliveries[0]?.solo ? headerOfSolo(deliveries[0]) : null);
  return header ? toJobRecord(header, deliveries, Date.now()) : null;
}

/**
 * A page of jobs, newest first (by creation time, then id), after the `after` cursor. Reads: a page
 * of headers and a page of solo deliveries, at once (the 'listing' and 'listing-solo' indexes),
 * merged; then the deliveries of the headers kept. Returns up to `limit` jobs.
 */
export async function listJobs(store: MongoStore, query: ListJobsQuery): Promise<JobRecord[]> {
  const { c } = store;
  const { queue, after, limit } = query;
  const before = (created: string, id: string): Filter<DeliveryDoc> =>
    after ? { $or: [{ [created]: { $lt: after.createdAt } }, { [created]: after.createdAt, [id]: { $lt: after.id } }] } : {};
  // Jobs are header documents or solo deliveries: page through both in listing order and merge.
  const [multi, solo] = await Promise.all([
    c.jobs.find({ queue, ...(before('createdAt', '_id') as Filter<JobDoc>) }).sort({ createdAt: -1, _id: -1 }).limit(limit).toArray(),
    c.deliveries.find({ queue, solo: true, ...before('jobCreatedAt', 'jobId') }).sort({ jobCreatedAt: -1, jobId: -1 }).limit(limit).toArray(),
  ]);
  const headers = [...multi, ...solo.map(headerOfSolo)]
    .sort((a, b) => b.createdAt - a.createdAt || (a._id < b._id ? 1 : a._id > b._id ? -1 : 0))
    .slice(0, limit);
  const byJob = new Map<string, DeliveryDoc[]>(solo.map((d) => [d.jobId, [d]]));
  const unread = headers.filter((h) => !byJob.has(h._id)).map((h) => h._id);
  for (const d of unread.length ? await c.deliveries.find({ jobId: { $in: unread } }).toArray() : []) {
    byJob.set(d.jobId, [...(byJob.get(d.jobId) ?? []), d]);
  }
  const now = Date.now();
  return headers.map((h) => toJobRecord(h, byJob.get(h._id) ?? [], now));
}

/**
 * Delivery counts per route and state. Reads: two aggregations at once, all the queue's deliveries
 * grouped by route and state, and its queued ones not yet due. Returns the counts, those not yet
 * due as `scheduled` rather than `queued`.
 */
export async function countByState(store: MongoStore, queue: string): Promise<StateCounts> {
  const now = Date.now();
  const counts: StateCounts = {};
  const add = (route: string, state: JobState, n: number) => {
    counts[route] ??= zeroStateCounts();
    counts[route]![state] += n;
  };
  const group = (match: Filter<DeliveryDoc>) =>
    store.c.deliveries.aggregate<{ _id: { route: string; state: DeliveryDoc['state'] }; n: number }>([
      { $match: match },
      { $group: { _id: { route: '$route', state: '$state' }, n: { $sum: 1 } } },
    ]).toArray();
  const [all, future] = await Promise.all([group({ queue }), group({ queue, state: 'queued', runAt: { $gt: now } })]);
  for (const row of all) add(row._id.route, row._id.state, row.n);
  for (const row of future) {
    add(row._id.route, 'queued', -row.n);
    add(row._id.route, 'scheduled', row.n);
  }
  return counts;
}

/**
 * Throughput. Writes: this process's pending counts first (see `ThroughputTallies.flush`).
 * Reads: the queue's minute documents from `since` on. Returns them by minute, then route.
 */
export async function readThroughput(store: MongoStore, queue: string, since: number): Promise<ThroughputBucket[]> {
  await store.tallies.flush();
  const docs = await store.c.throughput.find({ queue, minute: { $gte: since } }).sort({ minute: 1, route: 1 }).toArray();
  return docs.map(({ minute, route, completed, failed }) => ({ minute, route, completed, failed }));
}

/** The store's queues. Reads: the distinct queue names of deliveries, headers, workers and schedules, at once. Returns them sorted. */
export async function listQueues(store: MongoStore): Promise<string[]> {
  // A one-delivery job is only its delivery document; a job header exists for the others.
  const { deliveries, jobs, workers, schedules } = store.c;
  const names = await Promise.all([deliveries.distinct('queue'), jobs.distinct('queue'), workers.distinct('queue'), schedules.distinct('queue')]);
  return [...new Set(names.flat() as string[])].sort();
}
