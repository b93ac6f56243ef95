import type { Collection, Db } from 'mongodb';
import type { GroupLimits } from '@skq/core';
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

/** A group's limits ('*': the default) or a route's; `_id` is queue + NUL + scope + NUL + key. */
export interface LimitsDoc {
  _id: string;
  queue: string;
  scope: 'group' | 'route';
  key: string;
  limits: GroupLimits;
}

/** A group held by a rate-limited attempt: nothing of it starts before `until`; `_id` is queue + NUL + group. */
export interface HoldDoc {
  _id: string;
  queue: string;
  grp: string;
  until: number;
}

/** Where a route's turns stopped: the group its last claim served ('' for the jobs without one); `_id` is queue + NUL + route. */
export interface TurnDoc {
  _id: string;
  grp: string;
}

/**
 * Concurrency slot `i` of a group (see `operations/group-slots.ts`); `_id` is queue + NUL + group +
 * NUL + i. `holder` at `attempt` is the delivery a claim runs in it (null: free); `v` counts its
 * changes, for compare-and-sets.
 */
export interface SlotDoc {
  _id: string;
  queue: string;
  grp: string;
  i: number;
  v: number;
  holder: string | null;
  attempt: number;
  /** The claim that took it (its fence token). */
  owner: string;
  at: number;
}

/**
 * Rate-window slot `i` of a key (a group's or a route's rate; see `operations/rate-windows.ts`):
 * the time of the last start it took, by the claim's clock; `_id` is queue + NUL + scope + NUL + key
 * + NUL + i.
 */
export interface StartDoc {
  _id: string;
  queue: string;
  scope: 'group' | 'route';
  key: string;
  i: number;
  at: number;
  /** The claim that took it, so that only it gives it back. */
  owner: string;
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
  limits: Collection<LimitsDoc>;
  holds: Collection<HoldDoc>;
  turns: Collection<TurnDoc>;
  slots: Collection<SlotDoc>;
  starts: Collection<StartDoc>;
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
    limits: db.collection<LimitsDoc>(`${prefix}_limits`),
    holds: db.collection<HoldDoc>(`${prefix}_holds`),
    turns: db.collection<TurnDoc>(`${prefix}_turns`),
    slots: db.collection<SlotDoc>(`${prefix}_slots`),
    starts: db.collection<StartDoc>(`${prefix}_starts`),
  };
}

/**
 * Creates the indexes, idempotently: creating an index that exists with the same keys is a no-op,
 * so every process can run this when it first opens the store. Those of groups only on a store that
 * keeps them (see `keepsGroups`).
 */
export async function ensureIndexes(c: Collections, groups: boolean): Promise<void> {
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
    ...(groups ? groupIndexes(c) : []),
  ]);
}

/**
 * The indexes of groups (see operations/group-claim.ts): a group's due deliveries on a route in claim
 * order, and the route's next group after a key; a group's running deliveries on every route, and
 * listGroups' counts; limits, holds, slots and rate windows by what claims look up.
 */
function groupIndexes(c: Collections): Promise<string>[] {
  return [
    c.deliveries.createIndex({ queue: 1, route: 1, state: 1, grp: 1, priority: -1, runAt: 1, enq: 1 }, { name: 'group-claim' }),
    c.deliveries.createIndex({ queue: 1, grp: 1, state: 1 }, { name: 'group-state' }),
    c.limits.createIndex({ queue: 1, scope: 1, key: 1 }, { name: 'keys' }),
    c.holds.createIndex({ queue: 1, until: 1 }, { name: 'active' }),
    c.slots.createIndex({ queue: 1, grp: 1, i: 1 }, { name: 'group' }),
    c.starts.createIndex({ queue: 1, scope: 1, key: 1, i: 1 }, { name: 'window' }),
    c.starts.createIndex({ queue: 1, scope: 1, key: 1, at: 1 }, { name: 'window-age' }),
  ];
}
