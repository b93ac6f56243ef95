import { unreadableJobError, type ClaimRequest, type ClaimResult, type ClaimedDelivery } from '@skq/core/backend';
import { toClaimed, type ClaimedRow } from '../rows.js';
import { STATE_CODE } from '../schema.js';
import { rowChanged } from './events.js';
import { deliveryEnded } from './job-endings.js';
import { nextSeq, peekSeq, type SqliteStore } from './store.js';

/**
 * Claim, in one write transaction; SQLite's single writer makes it atomic across processes.
 * - Reads: whether the route or the whole queue is paused (then nothing is taken and the answer
 *   says `paused`); the route's queued priorities, highest first (a skip scan of the queued index);
 *   when fewer than `limit` were taken, the earliest future run_at of the rows this worker could take.
 * - Writes: up to `limit` due rows, shared or addressed to this worker, to running under a lease
 *   until `now + leaseMs`, attempts + 1, stamped `started`. Each statement returns what the worker
 *   needs and the claim did not set itself (the job's name, args and options are in the row). A row whose stored job cannot be read
 *   ends failed with the reason (and its job's end) and is not returned; the rows behind it still run.
 * - Returns: the claimed deliveries by priority, then run_at, then enqueue order; `nextRunAt` is
 *   null when `limit` deliveries were taken.
 */
export function claim(s: SqliteStore, request: ClaimRequest): ClaimResult {
  const now = request.now ?? Date.now();
  if (s.stmt.isPaused.get(request.queue, request.route)) return { deliveries: [], nextRunAt: null, paused: true };
  const deliveries: ClaimedDelivery[] = [];
  const params = { queue: request.queue, route: request.route, worker: request.workerId, now, lease_until: now + request.leaseMs, seq: 0, priority: 0 };
  const claimed = { queue: request.queue, route: request.route, workerId: request.workerId, now, leaseUntil: params.lease_until };
  let taken = 0;
  for (const { priority } of s.stmt.queuedPriorities.all(params) as { priority: number }[]) {
    params.priority = priority;
    // Each statement takes the next due row of this priority, so the rows come in claim order.
    while (taken < request.limit) {
      params.seq = peekSeq(s);
      const row = s.stmt.claimAtPriority.get(params) as ClaimedRow | undefined;
      if (!row) break;
      nextSeq(s);
      taken += 1;
      s.tallies.move(request.queue, request.route, STATE_CODE.queued, STATE_CODE.running);
      const { 0: id, 1: dix, 14: options, 15: fanout } = row;
      const deliveryId = `${id}.${dix}`;
      rowChanged(s, params.seq, request.queue, 'started', id, deliveryId, request.route, request.workerId, now);
      try {
        deliveries.push(toClaimed(row, claimed));
      } catch (cause) {
        // A stored job that cannot be read fails now, with why; the rows behind it still run.
        const seq = nextSeq(s);
        s.stmt.finishBad.run({ id, dix, state: STATE_CODE.failed, now, outcome: JSON.stringify(unreadableJobError(id, cause)), seq });
        s.tallies.move(request.queue, request.route, STATE_CODE.running, STATE_CODE.failed);
        rowChanged(s, seq, request.queue, 'failed', id, deliveryId, request.route, request.workerId, now);
        deliveryEnded(s, { queue: request.queue, jobId: id, deliveryId, route: request.route, workerId: request.workerId, fanout, options }, 'failed', now);
      }
    }
    if (taken >= request.limit) break;
  }
  let nextRunAt: number | null = null;
  if (taken < request.limit) {
    const next = s.stmt.nextRunAt.get({ queue: request.queue, route: request.route, now, worker: request.workerId }) as { run_at: number | null };
    nextRunAt = next.run_at;
  }
  return { deliveries, nextRunAt };
}
