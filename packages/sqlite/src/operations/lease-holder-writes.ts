import { failureOutcome, holdsLease, leaseLost, parseDeliveryId, type FailRequest, type JobRow, type LeaseToken } from '@skq/core/backend';
import { STATE_CODE, STATE_NAME } from '../schema.js';
import { recordNotice, rowChanged } from './events.js';
import { deliveryEnded } from './job-endings.js';
import { nextSeq, peekSeq, type HeldRow, type SqliteStore } from './store.js';

// The writes of the worker that holds a delivery's lease: its result, its failure, its progress and
// the lease's renewal. Each acts only under the current lease (holder and attempt): a stale one is
// refused with LEASE_LOST (or, for a renewal, left out of the answer) and writes nothing.

/** What a lease holder's write reads of its row: the lease, and what the delivery's end needs. */
type LeaseRow = { k: number } & Pick<JobRow, 'queue' | 'state' | 'worker_id' | 'attempts' | 'recoveries' | 'cancel_requested' | 'fanout' | 'options'> & { route: string; grp: string | null };

/**
 * Complete, in one write transaction. Writes: the row succeeded with its result, under the lease,
 * stamped `succeeded`; then its end (throughput, job end, retention; see {@link deliveryEnded}).
 * Reads: nothing for a row this connection's claim handed out (the statement checks the lease);
 * else, and when that statement found no such row, the row, checking the lease. Returns nothing;
 * throws `LEASE_LOST` unless `lease` is current.
 */
export function complete(s: SqliteStore, queue: string, lease: LeaseToken, result: unknown): void {
  const now = Date.now();
  const held = s.held.take(lease.deliveryId);
  // A row this connection's claim handed out knows its job id and index: only others parse the delivery id.
  const { id, dix } = held ?? parseDeliveryId(lease.deliveryId);
  let row: Omit<HeldRow, 'id' | 'dix'> | undefined = held;
  const outcome = JSON.stringify(result ?? null);
  const seq = peekSeq(s);
  if (!row || s.stmt.completeHeld.run(now, outcome, seq, now, now, row.k, id, dix, queue, lease.workerId, lease.attempt).changes !== 1) {
    row = leased(s, queue, lease, id, dix);
    s.stmt.completeRow.run(now, outcome, seq, now, now, row.k);
  }
  nextSeq(s);
  s.tallies.move(queue, row.route, STATE_CODE.running, STATE_CODE.succeeded);
  rowChanged(s, seq, queue, 'succeeded', id, lease.deliveryId, row.route, lease.workerId, now);
  deliveryEnded(s, { queue, jobId: id, deliveryId: lease.deliveryId, route: row.route, workerId: lease.workerId, fanout: row.fanout, options: row.options }, 'succeeded', now);
}

/**
 * Fail, in one write transaction. Reads: the row (checking the lease, and whether a cancel was
 * asked). Writes: the row queued again at `retryAt` with the error ('retrying'; a rate-limited one
 * uncharged, its cap one higher, and its group held until `holdGroupUntil`), or ended failed or
 * cancelled with it and its end recorded (see {@link deliveryEnded}); stamped with the outcome.
 * Returns the outcome; throws `LEASE_LOST` unless `lease` is current.
 */
export function fail(s: SqliteStore, queue: string, lease: LeaseToken, request: FailRequest): 'retrying' | 'failed' | 'cancelled' {
  const now = Date.now();
  const { id, dix } = parseDeliveryId(lease.deliveryId);
  s.held.take(lease.deliveryId);
  const row = leased(s, queue, lease, id, dix);
  const outcome = failureOutcome(request, { cancelRequested: row.cancel_requested === 1 });
  const error = JSON.stringify(request.error);
  const seq = nextSeq(s);
  if (outcome === 'retrying') {
    (request.rateLimited ? s.stmt.requeueUncharged : s.stmt.requeue).run({ id, dix, run_at: request.retryAt, outcome: error, seq, now });
    const holdUntil = request.rateLimited?.holdGroupUntil;
    if (holdUntil != null && row.grp !== null) s.groupStmt.hold.run(queue, row.grp, holdUntil);
    s.tallies.move(queue, row.route, STATE_CODE.running, STATE_CODE.queued);
  } else {
    s.stmt.finishBad.run({ id, dix, state: STATE_CODE[outcome], now, outcome: error, seq });
    s.tallies.move(queue, row.route, STATE_CODE.running, STATE_CODE[outcome]);
  }
  rowChanged(s, seq, queue, outcome, id, lease.deliveryId, row.route, lease.workerId, now);
  if (outcome !== 'retrying') deliveryEnded(s, { queue, jobId: id, deliveryId: lease.deliveryId, route: row.route, workerId: lease.workerId, fanout: row.fanout, options: row.options }, outcome, now);
  return outcome;
}

/**
 * Progress, in one write transaction. Reads: the row (checking the lease). Writes: its progress and
 * a `progress` notice carrying it (every value is an event, so it is a notice, not a row change).
 * Returns nothing; throws `LEASE_LOST` unless `lease` is current.
 */
export function setProgress(s: SqliteStore, queue: string, lease: LeaseToken, progress: unknown): void {
  const { id, dix } = parseDeliveryId(lease.deliveryId);
  const row = leased(s, queue, lease, id, dix);
  s.stmt.setProgress.run(JSON.stringify(progress ?? null), id, dix);
  recordNotice(s, queue, 'progress', id, lease.deliveryId, row.route, lease.workerId, Date.now(), progress);
}

/**
 * Lease renewal, in one write transaction. Reads: nothing apart from the updates' own conditions.
 * Writes: lease_until = now + `leaseMs` on each row still running under its lease (the check is in
 * the UPDATE; not a lifecycle change, so no stamp). Returns the leases renewed; a lost one is
 * missing, not an error.
 */
export function extendLease(s: SqliteStore, leases: LeaseToken[], leaseMs: number): LeaseToken[] {
  const leaseUntil = Date.now() + leaseMs;
  return leases.filter((lease) => {
    const { id, dix } = parseDeliveryId(lease.deliveryId);
    return s.stmt.extend.run(leaseUntil, id, dix, lease.workerId, lease.attempt).changes === 1;
  });
}

/** The row of `lease` in `queue`, if `lease` is still its current lease; else throws `LEASE_LOST`. */
function leased(s: SqliteStore, queue: string, lease: LeaseToken, id: string, dix: number): LeaseRow {
  const row = s.stmt.leaseOf.get(id, dix) as LeaseRow | undefined;
  const stored = row && row.queue === queue ? { state: STATE_NAME[row.state]!, workerId: row.worker_id, attempts: row.attempts } : null;
  if (!stored || !holdsLease(stored, lease)) throw leaseLost(queue, lease, stored);
  return row!;
}
