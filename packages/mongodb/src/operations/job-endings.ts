// How a worker ends a delivery it holds: complete or fail. Each is a compare-and-set on the lease
// (delivery id, worker, attempt, state 'running'), so an ending from a worker that lost its lease
// changes nothing and is refused: LEASE_LOST, or JOB_NOT_FOUND when the delivery is gone.
import { type SkqError } from '@skq/core';
import { failureOutcome, holdsLease, leaseLost, type FailRequest, type LeaseToken } from '@skq/core/backend';
import type { DeliveryDoc } from '../documents.js';
import { holdGroup } from './groups.js';
import { afterEnd } from './retention.js';
import type { MongoStore } from './store.js';

/** How often `complete` tries its compare-and-set while the lease is still held. */
const COMPLETE_TRIES = 3;

/**
 * Complete. Writes: the delivery `succeeded` with its result (JSON), a compare-and-set on the lease,
 * and a `succeeded` event; then its throughput count and retention (see {@link afterEnd}). Reads,
 * when the compare-and-set misses: the delivery, to tell a lost lease from a missed match.
 * Throws when the lease is no longer held (see {@link leaseLostError}).
 */
export async function completeDelivery(store: MongoStore, queue: string, lease: LeaseToken, result: unknown): Promise<void> {
  const now = Date.now();
  const { deliveryId: id, workerId } = lease;
  const update = { $set: { state: 'succeeded' as const, finishedAt: now, leaseUntil: null, result: JSON.stringify(result ?? null), error: null } };
  for (let tries = 1; ; tries += 1) {
    const done = await store.c.deliveries.findOneAndUpdate({ _id: id, queue, state: 'running', workerId, attempts: lease.attempt }, update);
    if (done) {
      store.record([store.event(done.queue, 'succeeded', done.jobId, id, done.route, workerId, now)]);
      await afterEnd(store, done, 'succeeded', now);
      return;
    }
    // A server whose findAndModify is not atomic (FerretDB v1) can miss a document that matches
    // while another write to it is under way: if the lease is still held, the compare-and-set is tried again.
    const row = await store.c.deliveries.findOne({ _id: id, queue }, { projection: { state: 1, workerId: 1, attempts: 1 } });
    if (!row || !holdsLease(row, lease) || tries >= COMPLETE_TRIES) throw leaseLost(queue, lease, row);
  }
}

/**
 * Fail. Reads: the delivery, to check the lease and decide the outcome from its attempts and
 * cancel request. Writes: for a rate-limited attempt that goes back to the queue with
 * `holdGroupUntil`, its group's hold first (see `holdGroup`), so no claim starts the group before
 * then; the delivery queued again at `retryAt` (`retrying`; a rate-limited attempt uncharged: its
 * `maxAttempts` one higher) or ended `failed` or `cancelled`, with the error (JSON), a
 * compare-and-set on the lease and on the cancel request as read (one arriving meanwhile makes it
 * read again); an event of the outcome; for an ending, its throughput count and retention. Returns
 * the outcome; throws when the lease is no longer held (see {@link leaseLostError}).
 */
export async function failDelivery(store: MongoStore, queue: string, lease: LeaseToken, request: FailRequest): Promise<'retrying' | 'failed' | 'cancelled'> {
  const now = Date.now();
  const error = JSON.stringify(request.error);
  const { deliveryId: id, workerId } = lease;
  let held = false;
  for (;;) {
    const row = await store.c.deliveries.findOne({ _id: id, queue });
    if (!row || !holdsLease(row, lease)) throw await leaseLostError(store, queue, lease, row);
    const outcome = failureOutcome(request, row);
    const uncharged = outcome === 'retrying' && request.rateLimited !== undefined;
    const holdUntil = request.rateLimited?.holdGroupUntil;
    if (uncharged && holdUntil != null && row.grp != null && !held) {
      await holdGroup(store, queue, row.grp, holdUntil);
      held = true;
    }
    const set: Partial<DeliveryDoc> =
      outcome === 'retrying' ? { state: 'queued', runAt: request.retryAt!, leaseUntil: null, error } : { state: outcome, finishedAt: now, leaseUntil: null, error };
    // Compare-and-set on the lease as read, including a cancel request that may arrive meanwhile.
    const changed = await store.c.deliveries.updateOne(
      { _id: id, state: 'running', workerId, attempts: lease.attempt, cancelRequested: row.cancelRequested },
      { $set: set, ...(uncharged && { $inc: { maxAttempts: 1 } }) },
    );
    if (changed.modifiedCount === 1) {
      store.record([store.event(row.queue, outcome, row.jobId, id, row.route, workerId, now)]);
      if (outcome !== 'retrying') await afterEnd(store, row, outcome, now);
      return outcome;
    }
  }
}

/**
 * The refusal of an ending whose lease is lost: LEASE_LOST naming what holds the delivery now, or
 * JOB_NOT_FOUND when it is gone. Reads: the delivery's state, worker and attempts, unless the
 * caller passes the row it read (null: the delivery is gone). Returns the error; the caller throws it.
 */
export async function leaseLostError(store: MongoStore, queue: string, lease: LeaseToken, row?: DeliveryDoc | null): Promise<SkqError> {
  const doc = row === undefined ? await store.c.deliveries.findOne({ _id: lease.deliveryId, queue }, { projection: { state: 1, workerId: 1, attempts: 1 } }) : row;
  return leaseLost(queue, lease, doc);
}
