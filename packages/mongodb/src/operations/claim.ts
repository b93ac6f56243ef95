import type { Filter } from 'mongodb';
import { unreadableJobError, type ClaimRequest, type ClaimResult, type ClaimedDelivery, type StorageBackend } from '@skq/core/backend';
import { toClaimed, type DeliveryDoc } from '../documents.js';
import { isPaused } from './pause.js';
import type { MongoStore } from './store.js';

/**
 * Claim: takes up to `request.limit` due deliveries of one route, unaddressed or addressed to this
 * worker, by priority, run time and enqueue order, under a lease of `leaseMs`.
 *
 * Reads: the pause documents of the route and the queue; after a short claim, the route's next
 * delayed run time. Writes: each delivery `running` for this worker with attempts + 1, one
 * `findOneAndUpdate` on the `claim` index each, and a `started` event per delivery. Returns the
 * deliveries in that order with the next delayed run time (null after a full claim or when none
 * waits), or `paused: true` and nothing.
 *
 * A claimed delivery whose stored job cannot be read is failed through `backend.fail`, a call of
 * its own (retried on a replaced client like any other).
 */
export async function claimDeliveries(store: MongoStore, request: ClaimRequest, backend: Pick<StorageBackend, 'fail'>): Promise<ClaimResult> {
  const now = request.now ?? Date.now();
  // Read before claiming: a claim that begins after a pause is stored takes nothing.
  if (await isPaused(store, request.queue, request.route)) return { deliveries: [], nextRunAt: null, paused: true };
  const filter: Filter<DeliveryDoc> = {
    queue: request.queue,
    route: request.route,
    state: 'queued',
    runAt: { $lte: now },
    targetWorker: { $in: [null, request.workerId] },
  };
  const update = {
    $set: { state: 'running' as const, workerId: request.workerId, leaseUntil: now + request.leaseMs, startedAt: now, cancelRequested: false },
    $inc: { attempts: 1 },
  };
  const sort = { priority: -1, runAt: 1, enq: 1 } as const;
  const claimed: DeliveryDoc[] = [];
  // One atomic findOneAndUpdate per delivery, one after another: racing claimers never share one.
  while (claimed.length < request.limit) {
    const doc = await store.c.deliveries.findOneAndUpdate(filter, update, { sort, returnDocument: 'after' });
    if (!doc) break;
    claimed.push(doc);
  }
  claimed.sort((a, b) => b.priority - a.priority || a.runAt - b.runAt || a.enq - b.enq);
  store.record(claimed.map((d) => store.event(d.queue, 'started', d.jobId, d._id, d.route, request.workerId, now)));
  let nextRunAt: number | null = null;
  // Only a short claim needs the next delayed run time (the worker sleeps until then); a full one saves the query.
  if (claimed.length < request.limit) {
    const next = await store.c.deliveries.findOne(
      { queue: request.queue, route: request.route, state: 'queued', runAt: { $gt: now }, targetWorker: { $in: [null, request.workerId] } },
      { sort: { runAt: 1 }, projection: { runAt: 1 } },
    );
    nextRunAt = next?.runAt ?? null;
  }
  const deliveries: ClaimedDelivery[] = [];
  for (const d of claimed) {
    try {
      deliveries.push(toClaimed(d, now));
    } catch (cause) {
      // A stored job that cannot be read fails now, with why; the deliveries behind it still run.
      const error = unreadableJobError(d.jobId, cause);
      await backend.fail(request.queue, { deliveryId: d._id, workerId: request.workerId, attempt: d.attempts }, { error, retryAt: null, cancelled: false });
    }
  }
  return { deliveries, nextRunAt };
}
