import type { Filter } from 'mongodb';
import { unreadableJobError, type ClaimRequest, type ClaimResult, type ClaimedDelivery, type StorageBackend } from '@skq/core/backend';
import { toClaimed, type DeliveryDoc } from '../documents.js';
import { wantedBy, type ClaimPass, type PassHooks } from './claim-batches.js';
import { claimByTurns, type TurnsOutcome } from './group-claim.js';
import { GroupKeys, readTurn } from './group-turns.js';
import { limitsId, limitsOf } from './groups.js';
import { isPaused } from './pause.js';
import type { MongoStore } from './store.js';

/**
 * Claim, for one request or several of this process on one queue and route (a pass; see
 * `ClaimBatches`): takes up to each request's `limit` due deliveries of the route, unaddressed or
 * addressed to its worker, under a lease of its `leaseMs`.
 *
 * Reads, at once: the pause documents of the route and the queue; on a store with `groups`, the
 * route's limits and its turn document (both by id). Only a route with a turn document (grouped
 * jobs were enqueued on it) is looked at for grouped jobs: its first group with a queued delivery
 * (the 'group-claim' index). With one, or with a route rate, the requests take turns among the
 * groups under their limits (see {@link claimByTurns}): the hooks are told when the turns begin and
 * when they are over, and requests joining meanwhile share them. Without, each request claims as it
 * always has (see {@link claimInOrder}); requests that joined a pass begun as one by turns (see
 * `ClaimBatches`) too. Those that joined get `paused` when the route was paused after the pass read
 * it.
 *
 * Writes a `started` event per delivery. Returns, per request, its deliveries with the next delayed
 * run time (null after a full claim or when none waits) and whether limits held due work back, or
 * `paused: true` and nothing.
 *
 * A claimed delivery whose stored job cannot be read is failed through `backend.fail`, a call of
 * its own (retried on a replaced client like any other).
 */
export async function claimDeliveries(store: MongoStore, pass: ClaimPass, backend: Pick<StorageBackend, 'fail'>, hooks?: PassHooks): Promise<ClaimResult[]> {
  const { queue, route } = pass.requests[0]!;
  const now = pass.requests[0]!.now ?? Date.now();
  // Read before claiming: a claim that begins after a pause is stored takes nothing.
  const [paused, routeLimits, turn] = await Promise.all([
    isPaused(store, queue, route),
    store.groups ? store.c.limits.findOne({ _id: limitsId(queue, 'route', route) }) : null,
    store.groups ? readTurn(store, queue, route) : null,
  ]);
  const stopped = (): ClaimResult => ({ deliveries: [], nextRunAt: null, paused: true });
  if (paused) return pass.requests.map(stopped);
  const routeRate = limitsOf(routeLimits)?.rate ?? null;
  // Only a route grouped jobs were ever enqueued on has a turn document: there, whether one is queued.
  const keys = turn ? new GroupKeys(store, pass.requests[0]!) : null;
  try {
    const grouped = keys !== null && (await keys.after('')) !== '';
    if (grouped) keys.walk(turn!.grp, wantedBy(pass.requests)); // the keys the turns begin with, read while the rest is
    if (!grouped && !routeRate) {
      hooks?.inOrder();
      const may = await mayTake(store, pass);
      return await Promise.all(pass.requests.map((request, i) => (i < may ? claimInOrder(store, request, now, backend) : stopped())));
    }
    hooks?.turns();
    const turns = await claimByTurns(store, pass, now, routeRate, keys ?? new GroupKeys(store, pass.requests[0]!), turn, () => (hooks?.chosen(), mayTake(store, pass)));
    return await handOutTurns(store, pass, turns, now, backend, stopped);
  } finally {
    keys?.stop();
  }
}

/** Each request's share of a claim by turns, handed out (see {@link handOut}); `paused` for those that may take none. */
function handOutTurns(store: MongoStore, pass: ClaimPass, turns: TurnsOutcome, now: number, backend: Pick<StorageBackend, 'fail'>, stopped: () => ClaimResult): Promise<ClaimResult[]> {
  return Promise.all(
    pass.requests.map(async (request, i) => {
      const claimed = turns.claimed[i];
      if (!claimed) return stopped();
      const nextRunAt = claimed.length >= request.limit ? null : turns.nextRunAt;
      return { deliveries: await handOut(store, request, claimed, now, backend), nextRunAt, ...(turns.limited && { limited: true }) };
    }),
  );
}

/**
 * How many of a pass's requests may take deliveries, once no more join it. Reads, when some joined
 * (they began after the pass read the pause documents): those documents again. Returns all, or only
 * those the pass began with when the route or queue is paused now.
 */
async function mayTake(store: MongoStore, pass: ClaimPass): Promise<number> {
  const { queue, route } = pass.requests[0]!;
  if (pass.requests.length === pass.began || !(await isPaused(store, queue, route))) return pass.requests.length;
  return pass.began;
}

/**
 * The claim of a route with no grouped job queued and no rate: deliveries by priority, run time and
 * enqueue order. Writes: each `running` for this worker with attempts + 1, one `findOneAndUpdate`
 * on the `claim` index each. Reads, after a short claim: the route's next delayed run time.
 * Returns the deliveries, handed out (see {@link handOut}), and that run time.
 */
async function claimInOrder(store: MongoStore, request: ClaimRequest, now: number, backend: Pick<StorageBackend, 'fail'>): Promise<ClaimResult> {
  // Jobs without a group only: a grouped one queued since the dispatch read waits for the next claim, which takes turns.
  const filter: Filter<DeliveryDoc> = {
    queue: request.queue,
    route: request.route,
    state: 'queued',
    runAt: { $lte: now },
    targetWorker: { $in: [null, request.workerId] },
    grp: null,
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
  let nextRunAt: number | null = null;
  // Only a short claim needs the next delayed run time (the worker sleeps until then); a full one saves the query.
  if (claimed.length < request.limit) {
    const next = await store.c.deliveries.findOne(
      { queue: request.queue, route: request.route, state: 'queued', runAt: { $gt: now }, targetWorker: { $in: [null, request.workerId] } },
      { sort: { runAt: 1 }, projection: { runAt: 1 } },
    );
    nextRunAt = next?.runAt ?? null;
  }
  return { deliveries: await handOut(store, request, claimed, now, backend), nextRunAt };
}

/**
 * Hands claimed deliveries out: a `started` event each, then each as the worker reads it. A delivery
 * whose stored job cannot be read fails now, with why; the deliveries behind it still run.
 */
async function handOut(store: MongoStore, request: ClaimRequest, claimed: DeliveryDoc[], now: number, backend: Pick<StorageBackend, 'fail'>): Promise<ClaimedDelivery[]> {
  store.record(claimed.map((d) => store.event(d.queue, 'started', d.jobId, d._id, d.route, request.workerId, now)));
  const deliveries: ClaimedDelivery[] = [];
  for (const d of claimed) {
    try {
      deliveries.push(toClaimed(d, now));
    } catch (cause) {
      const error = unreadableJobError(d.jobId, cause);
      // A failure to fail it leaves it leased: recovery takes it back after its lease, and a later claim fails it.
      await backend
        .fail(request.queue, { deliveryId: d._id, workerId: request.workerId, attempt: d.attempts }, { error, retryAt: null, cancelled: false })
        .catch((err: unknown) => store.warn(`mongodb: job ${d.jobId}, which cannot be read, was not failed`, { queue: request.queue, jobId: d.jobId, err }));
    }
  }
  return deliveries;
}
