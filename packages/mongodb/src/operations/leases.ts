// Lease renewal and recovery: workers extend the leases they hold; a sweep takes back the
// deliveries whose lease expired and fails those addressed to a worker that is gone.
import { expiredLeaseError, expiredLeaseOutcome, workerGoneError, type LeaseToken } from '@skq/core/backend';
import type { EventDoc } from '../documents.js';
import { finishPendingHeaders } from './enqueue.js';
import { dropEndedHolds } from './groups.js';
import { afterEnd } from './retention.js';
import type { MongoStore } from './store.js';

/**
 * Extends leases. Writes: each delivery's `leaseUntil`, a compare-and-set on its lease (all sent at
 * once). Returns the leases still held; the others were lost.
 */
export async function extendLeases(store: MongoStore, leases: LeaseToken[], leaseMs: number): Promise<LeaseToken[]> {
  const leaseUntil = Date.now() + leaseMs;
  const held = await Promise.all(
    leases.map((l) => store.c.deliveries.updateOne({ _id: l.deliveryId, workerId: l.workerId, attempts: l.attempt, state: 'running' }, { $set: { leaseUntil } })),
  );
  return leases.filter((_, i) => held[i]!.matchedCount === 1);
}

/**
 * The recovery sweep. First finishes enqueues whose writer stopped midway (see
 * {@link finishPendingHeaders}). Reads: the queue's running deliveries whose lease ended before
 * `now`. Writes, per delivery, a compare-and-set on the expired lease as read (so one renewed or
 * taken back meanwhile is left alone): queued again to run now with recoveries + 1, or, as
 * `expiredLeaseOutcome` says (cancel requested, too many recoveries), ended `cancelled` or `failed`
 * with the expired-lease error and its retention; then fails orphaned broadcast deliveries (see
 * {@link failOrphaned}); an event per change; then, on a store with groups, drops the group holds
 * that ended (see {@link dropEndedHolds}) and forgets which routes this process has marked (see
 * `markGroupedRoutes`). Returns how many deliveries it changed. Safe to run in
 * several processes at once.
 */
export async function recoverExpired(store: MongoStore, queue: string, now: number): Promise<number> {
  const { c } = store;
  await finishPendingHeaders(store, queue, now);
  const expired = await c.deliveries.find({ queue, state: 'running', leaseUntil: { $lt: now } }).toArray();
  let taken = 0;
  const events: EventDoc[] = [];
  for (const row of expired) {
    const lease = { _id: row._id, state: 'running' as const, workerId: row.workerId, leaseUntil: row.leaseUntil };
    const type = expiredLeaseOutcome({ cancelRequested: row.cancelRequested, recoveries: row.recoveries });
    const changed =
      type === 'recovered'
        ? await c.deliveries.updateOne(lease, { $set: { state: 'queued', runAt: now, leaseUntil: null }, $inc: { recoveries: 1 } })
        : await c.deliveries.updateOne(lease, {
            $set: { state: type, finishedAt: now, leaseUntil: null, error: JSON.stringify(expiredLeaseError({ id: row._id, workerId: row.workerId, recoveries: row.recoveries }, type)) },
          });
    if (changed.modifiedCount !== 1) continue; // renewed or taken back by another process meanwhile
    taken += 1;
    events.push(store.event(queue, type, row.jobId, row._id, row.route, row.workerId, now));
    if (type !== 'recovered') await afterEnd(store, row, type, now);
  }
  taken += await failOrphaned(store, queue, now, events);
  store.record(events);
  if (store.groups) {
    await dropEndedHolds(store, queue, now);
    // The next grouped enqueue marks its routes again: a mark lost meanwhile (a dropped collection) comes back.
    store.markedRoutes.clear();
  }
  return taken;
}

/**
 * Fails the queued broadcast deliveries addressed to a worker with no live registration: nobody
 * else may run them. Reads: the queue's addressed queued deliveries' targets (the 'addressed'
 * index) and its live workers; then up to 500 orphaned deliveries. Writes: each `failed` with the
 * worker-gone error (a compare-and-set on `queued`, so one claimed or ended meanwhile is left
 * alone), and its retention; the events go into `events`. Returns how many failed.
 */
export async function failOrphaned(store: MongoStore, queue: string, now: number, events: EventDoc[]): Promise<number> {
  const { c } = store;
  const targets = (await c.deliveries.distinct('targetWorker', { queue, state: 'queued', targetWorker: { $gt: '' } })) as string[];
  if (targets.length === 0) return 0;
  const live = new Set((await c.workers.distinct('_id', { queue, expiresAt: { $gte: now } })) as string[]);
  const gone = targets.filter((t) => !live.has(t));
  if (gone.length === 0) return 0;
  let failed = 0;
  for (const row of await c.deliveries.find({ queue, state: 'queued', targetWorker: { $in: gone } }).limit(500).toArray()) {
    const error = JSON.stringify(workerGoneError({ id: row._id, targetWorker: row.targetWorker }));
    const ended = await c.deliveries.updateOne({ _id: row._id, state: 'queued' }, { $set: { state: 'failed', finishedAt: now, error } });
    if (ended.modifiedCount !== 1) continue; // claimed or ended meanwhile
    failed += 1;
    events.push(store.event(queue, 'failed', row.jobId, row._id, row.route, row.targetWorker, now));
    await afterEnd(store, row, 'failed', now);
  }
  return failed;
}
