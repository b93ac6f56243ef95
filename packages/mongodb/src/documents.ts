import { type Delivery, type JobEvent, type JobRecord, type JobState, type LogLine, type ScheduleRecord, type WorkerInfo } from '@skq/core';
import { claimableArgs, deliveryState, storedArgs, storedRunOptions, summarizeDeliveries, type ClaimedDelivery, type NewJob } from '@skq/core/backend';

/*
 * The documents the backend stores. Arguments, results and errors are kept as JSON text, so that
 * whatever a handler returns round-trips exactly as on the other backends (keys with dots or `$`,
 * `undefined`, big nested arrays) and never trips over BSON's rules.
 */

/** A job's header: what was fired. It is the commit record of an enqueue (see `enqueue`). */
export interface JobDoc {
  _id: string;
  queue: string;
  name: string;
  args: string;
  routes: string[];
  type: NewJob['type'];
  priority: number;
  createdAt: number;
  /** When the deliveries may first run. */
  runAt: number;
  /** Enqueue order, for ties on createdAt. */
  enq: number;
  options: string;
  dedupeKey: string | null;
  /** The job's group (absent: none); its deliveries carry it too. */
  grp?: string | null;
  /** The state of a job with no delivery (a broadcast nobody listened to). */
  emptyState: JobState | null;
  /** The deliveries this header promises, until they are all stored. */
  pending?: PendingDelivery[];
  pendingSince?: number;
  /** Once every delivery has ended: when, and whether all succeeded (`completed`) or not (`failed`). */
  endedAt?: number;
  endedKind?: 'completed' | 'failed';
}

export interface PendingDelivery {
  route: string;
  targetWorker: string | null;
}

/** One delivery; it carries what a worker needs to run it, so a claim is one round trip. */
export interface DeliveryDoc {
  _id: string;
  jobId: string;
  index: number;
  queue: string;
  route: string;
  targetWorker: string | null;
  state: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  priority: number;
  runAt: number;
  enq: number;
  jobCreatedAt: number;
  attempts: number;
  maxAttempts: number;
  recoveries: number;
  workerId: string | null;
  leaseUntil: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  result: string | null;
  error: string | null;
  cancelRequested: boolean;
  /** The last `ctx.progress()` report, as JSON. */
  progress?: string | null;
  name: string;
  args: string;
  options: string;
  /** The job's only delivery, carrying the rest of its header: the job has no header document. */
  solo?: true;
  routes?: string[];
  type?: NewJob['type'];
  dedupeKey?: string | null;
  /** The job's group; absent for a job without one (a `grp: null` query finds those). */
  grp?: string | null;
  /** Its current claim holds a concurrency slot of its group (see `operations/group-slots.ts`). */
  slotted?: boolean;
  /** Claims (owner tokens) that may not start its next attempt any more: their slots were taken over (see `operations/group-slots.ts`). */
  fences?: string[];
}

/** A worker's registration; `_id` is the worker id. */
export interface WorkerDoc extends Omit<WorkerInfo, 'id'> {
  _id: string;
}

/** A lifecycle event is stored as it is published (plus the `_id` MongoDB gives it). */
export type EventDoc = JobEvent;

/** A captured output line, with its job for lookup and a sequence number for order. */
export interface LogDoc extends LogLine {
  jobId: string;
  seq: number;
}

/** A stored schedule; `_id` is queue + NUL + id. */
export interface ScheduleDoc extends Omit<ScheduleRecord, 'rule' | 'job'> {
  _id: string;
  /** The rule and job as JSON: an unchanged definition compares equal as text. */
  definition: string;
  /** The job of a tick that won its compare-and-set but may not be enqueued yet (JSON). */
  firingJob?: string;
}

export function toDelivery(doc: DeliveryDoc, now: number): Delivery {
  return {
    id: doc._id,
    jobId: doc.jobId,
    queue: doc.queue,
    route: doc.route,
    targetWorker: doc.targetWorker,
    state: deliveryState(doc.state, doc.runAt, now),
    priority: doc.priority,
    runAt: doc.runAt,
    attempts: doc.attempts,
    maxAttempts: doc.maxAttempts,
    recoveries: doc.recoveries ?? 0,
    workerId: doc.workerId,
    leaseUntil: doc.leaseUntil,
    startedAt: doc.startedAt,
    finishedAt: doc.finishedAt,
    result: doc.result === null ? null : JSON.parse(doc.result),
    error: doc.error === null ? null : JSON.parse(doc.error),
    cancelRequested: doc.cancelRequested,
    progress: doc.progress ? JSON.parse(doc.progress) : null,
  };
}

export function toClaimed(doc: DeliveryDoc, now: number): ClaimedDelivery {
  return { ...toDelivery(doc, now), name: doc.name, args: claimableArgs(doc.args), options: JSON.parse(doc.options), ...(doc.grp != null && { group: doc.grp }) };
}

/** The header of a job stored as one solo delivery. */
export function headerOfSolo(d: DeliveryDoc): JobDoc {
  return {
    _id: d.jobId,
    queue: d.queue,
    name: d.name,
    args: d.args,
    routes: d.routes ?? [d.route],
    type: d.type ?? 'direct',
    priority: d.priority,
    createdAt: d.jobCreatedAt,
    runAt: d.runAt,
    enq: d.enq,
    options: d.options,
    dedupeKey: d.dedupeKey ?? null,
    ...(d.grp != null && { grp: d.grp }),
    emptyState: null,
  };
}

export function toJobRecord(job: JobDoc, deliveryDocs: DeliveryDoc[], now: number): JobRecord {
  const deliveries = [...deliveryDocs].sort((a, b) => a.index - b.index).map((d) => toDelivery(d, now));
  // A header whose deliveries are still being stored reads as queued, as it will be.
  const fallback: JobState = job.pending?.length ? 'queued' : (job.emptyState ?? 'cancelled');
  return {
    id: job._id,
    queue: job.queue,
    name: job.name,
    args: storedArgs(job.args),
    routes: job.routes,
    type: job.type,
    priority: job.priority,
    createdAt: job.createdAt,
    dedupeKey: job.dedupeKey,
    ...(job.grp != null && { group: job.grp }),
    options: storedRunOptions(job.options),
    ...summarizeDeliveries(deliveries, fallback),
    deliveries,
  };
}

export function toWorker({ _id, ...registration }: WorkerDoc): WorkerInfo {
  return { id: _id, ...registration, state: registration.state ?? 'running', runningJobIds: registration.runningJobIds ?? [], command: registration.command ?? null };
}

/** An event as read back: without the `_id` MongoDB gave it. */
export function toEvent({ _id, ...event }: EventDoc & { _id?: unknown }): JobEvent {
  return event;
}

/**
 * Event and log sequence numbers: the clock in ms times 1024 plus a counter, never going back
 * within a process. Processes on one machine share the clock, so their numbers interleave in
 * time order without a round trip to a counter document.
 */
export class SequenceClock {
  private last = 0;

  next(): number {
    this.last = Math.max(this.last + 1, Date.now() * 1024);
    return this.last;
  }

  /** The sequence number of the present instant, without taking one. */
  static at(ms: number): number {
    return ms * 1024;
  }
}
