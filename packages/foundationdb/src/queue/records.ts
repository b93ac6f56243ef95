import { type Delivery, type JobRecord, type WorkerInfo } from '@skq/core';
import { deliveryState, summarizeDeliveries, type ClaimedDelivery, type EndedKind } from '@skq/core/backend';

/** The most bytes of JSON one result, error, log line or job takes: FDB's values are at most 100,000 bytes, and each is one value with a little around it. */
export const MAX_VALUE_BYTES = 90_000;

/** A job as stored under `j, jobId`: the contract's fields, its delivery ids and its end. */
export interface StoredJob extends Pick<JobRecord, 'id' | 'name' | 'args' | 'routes' | 'type' | 'priority' | 'createdAt' | 'options' | 'dedupeKey'> {
  /** Its group, when it has one (absent otherwise). */
  group?: string;
  deliveryIds: string[];
  endedKind: EndedKind | null;
  endedAt: number | null;
}

/**
 * A delivery as stored under `d, deliveryId`: the contract's fields (its state without
 * `scheduled`, which is a queued delivery whose run time is ahead), and what ordering, fencing and
 * replays need. `leaseUntil` is a local estimate for people; the lease itself ends at `leaseVersion`.
 */
export interface StoredDelivery extends Omit<Delivery, 'queue' | 'state'> {
  state: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  /** Enqueue order, for ties on priority and run time. */
  seq: number;
  /** The job's group, when it has one: its ready key, counters and limits go by it. */
  group?: string;
  /** The group slot its current (or last) attempt holds while running: see `gs` in `keys.ts`. */
  slot?: number;
  /** The cluster version the lease ends at: leases never compare clocks of different machines. */
  leaseVersion: number | null;
  /** How the last attempt ended, and the nonce of the call that ended it: that call's retry gets the same answer. */
  lastEnd: { nonce: string; outcome: 'succeeded' | 'retrying' | 'failed' | 'cancelled' } | null;
}

/** A registration as stored under `w, workerId`. */
export interface StoredWorker extends Omit<WorkerInfo, 'queue'> {
  /** The cluster version the registration expires at. */
  expiresVersion: number;
}

export function toDelivery(queue: string, d: StoredDelivery, now: number): Delivery {
  const { seq: _seq, leaseVersion: _leaseVersion, lastEnd: _lastEnd, group: _group, slot: _slot, state, ...fields } = d;
  return { ...fields, queue, state: deliveryState(state, d.runAt, now), result: d.result ?? null, progress: d.progress ?? null };
}

export function toClaimed(queue: string, d: StoredDelivery, job: StoredJob, now: number): ClaimedDelivery {
  return { ...toDelivery(queue, d, now), name: job.name, args: job.args, options: job.options, ...(d.group !== undefined && { group: d.group }) };
}

export function toJobRecord(queue: string, job: StoredJob, deliveries: StoredDelivery[], now: number): JobRecord {
  const { deliveryIds: _deliveryIds, endedKind: _endedKind, endedAt: _endedAt, ...fields } = job;
  const mapped = deliveries.map((d) => toDelivery(queue, d, now));
  return { ...fields, queue, ...summarizeDeliveries(mapped, 'cancelled'), deliveries: mapped };
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
