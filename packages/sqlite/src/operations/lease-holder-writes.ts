import { type JobState } from '@skq/core';
import { failureOutcome, holdsLease, leaseLost, type FailRequest, type LeaseToken } from '@skq/core/backend';
import type { DeliveryRow } from '../rows.js';
import { recordEvent } from './events.js';
import { deliveryEnded } from './job-endings.js';
import type { SqliteStore } from './store.js';

// The writes of the worker that holds a delivery's lease: its result, its failure, its progress and
// the lease's renewal. Each acts only under the current lease (holder and attempt): a stale one is
// refused with LEASE_LOST (or, for a renewal, left out of the answer) and writes nothing.

/**
 * Complete, in one write transaction. Reads: the delivery (checking the lease). Writes: the delivery
 * succeeded with its result, a `succeeded` event, and its end (throughput, job end, retention; see
 * {@link deliveryEnded}). Returns nothing; throws `LEASE_LOST` unless `lease` is current.
 */
export function complete(s: SqliteStore, queue: string, lease: LeaseToken, result: unknown): void {
  const now = Date.now();
  const id = lease.deliveryId;
  const row = leased(s, queue, lease);
  s.stmt.finish.run({ id, state: 'succeeded', now, result: JSON.stringify(result ?? null), error: null });
  recordEvent(s, row.queue, 'succeeded', row.job_id, id, row.route, lease.workerId, now);
  deliveryEnded(s, queue, row.job_id, row.route, 'succeeded', now);
}

/**
 * Fail, in one write transaction. Reads: the delivery (checking the lease, and whether a cancel was
 * asked). Writes: the delivery queued again at `retryAt` with the error ('retrying'), or ended
 * failed or cancelled with it and its end recorded (see {@link deliveryEnded}); an event named after
 * the outcome. Returns the outcome; throws `LEASE_LOST` unless `lease` is current.
 */
export function fail(s: SqliteStore, queue: string, lease: LeaseToken, request: FailRequest): 'retrying' | 'failed' | 'cancelled' {
  const now = Date.now();
  const id = lease.deliveryId;
  const row = leased(s, queue, lease);
  const error = JSON.stringify(request.error);
  const outcome = failureOutcome(request, { cancelRequested: row.cancel_requested === 1 });
  if (outcome === 'retrying') s.stmt.requeue.run({ id, run_at: request.retryAt, error });
  else s.stmt.finish.run({ id, state: outcome, now, result: null, error });
  recordEvent(s, row.queue, outcome, row.job_id, id, row.route, lease.workerId, now);
  if (outcome !== 'retrying') deliveryEnded(s, queue, row.job_id, row.route, outcome, now);
  return outcome;
}

/**
 * Progress, in one write transaction. Reads: the delivery (checking the lease). Writes: its progress
 * and a `progress` event carrying it. Returns nothing; throws `LEASE_LOST` unless `lease` is current.
 */
export function setProgress(s: SqliteStore, queue: string, lease: LeaseToken, progress: unknown): void {
  const row = leased(s, queue, lease);
  s.stmt.setProgress.run(JSON.stringify(progress ?? null), lease.deliveryId);
  recordEvent(s, queue, 'progress', row.job_id, row.id, row.route, lease.workerId, Date.now(), progress);
}

/**
 * Lease renewal, in one write transaction. Reads: nothing apart from the updates' own conditions.
 * Writes: lease_until = now + `leaseMs` on each delivery still running under its lease (the check
 * is in the UPDATE). Returns the leases renewed; a lost one is missing, not an error.
 */
export function extendLease(s: SqliteStore, leases: LeaseToken[], leaseMs: number): LeaseToken[] {
  const leaseUntil = Date.now() + leaseMs;
  return leases.filter((lease) => s.stmt.extend.run(leaseUntil, lease.deliveryId, lease.workerId, lease.attempt).changes === 1);
}

/** The delivery of `lease` in `queue`, if `lease` is still its current lease; else throws `LEASE_LOST`. */
function leased(s: SqliteStore, queue: string, lease: LeaseToken): DeliveryRow {
  const row = s.stmt.delivery.get(lease.deliveryId) as DeliveryRow | undefined;
  const stored = row && row.queue === queue ? { state: row.state as JobState, workerId: row.worker_id, attempts: row.attempts } : null;
  if (!stored || !holdsLease(stored, lease)) throw leaseLost(queue, lease, stored);
  return row!;
}
