import type { Collection, Db } from 'mongodb';
import type { CallRecord } from '@skq/core/backend';
import type { DeliveryDoc, EventDoc, JobDoc, LogDoc, ScheduleDoc, WorkerDoc } from './documents.js';

/** The dedupe lock of a pending job: `_id` is queue + NUL + key. */
export interface DedupeDoc {
  _id: string;
  jobId: string;
}

/** A paused route ('*': the queue); `_id` is queue + NUL + route. */
export interface PausedDoc {
  _id: string;
  queue: string;
  route: string;
  since: number;
}

/** Jobs of one route that ended in one minute; `_id` is queue + NUL + minute + NUL + route. */
export interface ThroughputDoc {
  _id: string;
  queue: string;
  route: string;
  minute: number;
  completed: number;
  failed: number;
}

/** A call record of `asEvent`, in the `userdef` collection. */
export interface UserdefDoc {
  _id: string;
  queue: string;
  seq: number;
  record: CallRecord;
}

/** The collections of one skunq store, named `<prefix>_<what>`. */
export interface Collections {
  jobs: Collection<JobDoc>;
  deliveries: Collection<DeliveryDoc>;
  dedupe: Collection<DedupeDoc>;
  workers: Collection<WorkerDoc>;
  events: Collection<EventDoc>;
  logs: Collection<LogDoc>;
  schedules: Collection<ScheduleDoc>;
  paused: Collection<PausedDoc>;
  throughput: Collection<ThroughputDoc>;
  userdef: Collection<UserdefDoc>;
}

export function collectionsOf(db: Db, prefix: string): Collections {
  return {
    jobs: db.collection<JobDoc>(`${prefix}_jobs`),
    deliveries: db.collection<DeliveryDoc>(`${prefix}_deliveries`),
    dedupe: db.collection<DedupeDoc>(`${prefix}_dedupe`),
    workers: db.collection<WorkerDoc>(`${prefix}_workers`),
    events: db.collection<EventDoc>(`${prefix}_events`),
    logs: db.collection<LogDoc>(`${prefix}_logs`),
    schedules: db.collection<ScheduleDoc>(`${prefix}_schedules`),
    paused: db.collection<PausedDoc>(`${prefix}_paused`),
    throughput: db.collection<ThroughputDoc>(`${prefix}_throughput`),
    userdef: db.collection<UserdefDoc>(`${prefix}_userdef`),
  };
}

/**
 * Creates the indexes, idempotently: creating an index that exists with the same keys is a no-op,
 * so every process can run this when it first opens the store.
 */
export async function ensureIndexes(c: Collections): Promise<void> {
  await Promise.all([
    // The claim: one route's queued deliveries, by priority, run time, enqueue order.
    c.deliveries.createIndex({ queue: 1, route: 1, state: 1, priority: -1, runAt: 1, enq: 1 }, { name: 'claim' }),
    c.deliveries.createIndex({ queue: 1, state: 1, leaseUntil: 1 }, { name: 'leases' }),
    c.deliveries.createIndex({ queue: 1, state: 1, targetWorker: 1 }, { name: 'addressed' }),
    c.deliveries.createIndex({ jobId: 1 }, { name: 'job' }),
    c.jobs.createIndex({ queue: 1, createdAt: -1, _id: -1 }, { name: 'listing' }),
    c.jobs.createIndex({ queue: 1, endedKind: 1, endedAt: -1 }, { name: 'ended', sparse: true }),
    c.deliveries.createIndex({ queue: 1, solo: 1, jobCreatedAt: -1, jobId: -1 }, { name: 'listing-solo' }),
    c.deliveries.createIndex({ queue: 1, solo: 1, state: 1, finishedAt: -1 }, { name: 'ended-solo' }),
    c.throughput.createIndex({ queue: 1, minute: 1 }, { name: 'minutes' }),
    c.userdef.createIndex({ queue: 1, 'record.name': 1, seq: -1 }, { name: 'by-name' }),
    c.userdef.createIndex({ queue: 1, seq: -1 }, { name: 'newest' }),
    c.jobs.createIndex({ pendingSince: 1 }, { name: 'pending', sparse: true }),
    c.workers.createIndex({ queue: 1, expiresAt: 1 }, { name: 'live' }),
    c.events.createIndex({ queue: 1, seq: 1 }, { name: 'feed' }),
    c.events.createIndex({ at: 1 }, { name: 'age' }),
    c.logs.createIndex({ jobId: 1, seq: 1 }, { name: 'job' }),
    c.schedules.createIndex({ queue: 1, id: 1 }, { name: 'queue' }),
  ]);
}
