import {
  summarizeDeliveries,
  type ClaimedDelivery,
  type Delivery,
  type EndedKind,
  type JobRecord,
  type JobRunOptions,
  type JobState,
  type NewJob,
  type SerializedError,
  type WorkerInfo,
} from '@skq/core';

/** A job as stored under `j, jobId`. */
export interface StoredJob {
  id: string;
  name: string;
  args: unknown[];
  routes: string[];
  type: NewJob['type'];
  priority: number;
  createdAt: number;
  options: JobRunOptions;
  dedupeKey: string | null;
  deliveryIds: string[];
  endedKind: EndedKind | null;
  endedAt: number | null;
}

/** A delivery as stored under `d, deliveryId`: the contract's fields, and what fences and replays need. */
export interface StoredDelivery {
  id: string;
  jobId: string;
  route: string;
  targetWorker: string | null;
  state: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  priority: number;
  runAt: number;
  /** Enqueue order, for ties on priority and run time. */
  seq: number;
  attempts: number;
  maxAttempts: number;
  recoveries: number;
  workerId: string | null;
  /** Local estimate for people; the lease itself ends at `leaseVersion`. */
  leaseUntil: number | null;
  /** The cluster version the lease ends at: leases never compare clocks of different machines. */
  leaseVersion: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  result: unknown;
  error: SerializedError | null;
  cancelRequested: boolean;
  progress: unknown;
  /** How the last attempt ended, and the nonce of the call that ended it: that call's retry gets the same answer. */
  lastEnd: { nonce: string; outcome: 'succeeded' | 'retrying' | 'failed' | 'cancelled' } | null;
}

/** A registration as stored under `w, workerId`. */
export interface StoredWorker extends Omit<WorkerInfo, 'queue'> {
  /** The cluster version the registration expires at. */
  expiresVersion: number;
}

export function toDelivery(queue: string, d: StoredDelivery, now: number): Delivery {
  return {
    id: d.id,
    jobId: d.jobId,
    queue,
    route: d.route,
    targetWorker: d.targetWorker,
    state: (d.state === 'queued' && d.runAt > now ? 'scheduled' : d.state) as JobState,
    priority: d.priority,
    runAt: d.runAt,
    attempts: d.attempts,
    maxAttempts: d.maxAttempts,
    recoveries: d.recoveries,
    workerId: d.workerId,
    leaseUntil: d.leaseUntil,
    startedAt: d.startedAt,
    finishedAt: d.finishedAt,
    result: d.result ?? null,
    error: d.error,
    cancelRequested: d.cancelRequested,
    progress: d.progress ?? null,
  };
}

export function toClaimed(queue: string, d: StoredDelivery, job: StoredJob, now: number): ClaimedDelivery {
  return { ...toDelivery(queue, d, now), name: job.name, args: job.args, options: job.options };
}

export function toJobRecord(queue: string, job: StoredJob, deliveries: StoredDelivery[], now: number): JobRecord {
  const mapped = deliveries.map((d) => toDelivery(queue, d, now));
  return {
    id: job.id,
    queue,
    name: job.name,
    args: job.args,
    routes: job.routes,
    type: job.type,
    priority: job.priority,
    createdAt: job.createdAt,
    dedupeKey: job.dedupeKey,
    options: job.options,
    ...summarizeDeliveries(mapped, 'cancelled'),
    deliveries: mapped,
  };
}

export function encode(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

export function decode<T>(value: Buffer): T {
  return JSON.parse(value.toString('utf8')) as T;
}

/** A little-endian 64-bit counter as atomic add leaves it. */
export function counterValue(value: Buffer | undefined): number {
  return value && value.length >= 8 ? Number(value.readBigInt64LE(0)) : 0;
}
