import { unreadableJobError, type ClaimRequest, type ClaimResult, type ClaimedDelivery } from '@skq/core/backend';
import { toClaimed, type ClaimedRow } from '../rows.js';
import { STATE_CODE } from '../schema.js';
import { deliveryIdOf, run, type PgTx } from '../store.js';
import { deliveryEnded } from './job-endings.js';

/**
 * Claim, in one transaction, its reads and writes in one statement.
 * - Reads: whether the route or the whole queue is paused (then nothing is taken and the answer says
 *   `paused`); the route's queued priorities, highest first, and per priority its due rows in run_at
 *   order (the queued index), skipping rows another transaction holds (`SKIP LOCKED`), so that
 *   concurrent claims never wait for each other nor take the same row; when fewer than `limit` were
 *   taken, the earliest future run_at of the rows this worker could take.
 * - Writes: up to `limit` due rows, shared or addressed to this worker, to running under a lease until
 *   `now + leaseMs`, attempts + 1; a `started` event each. A row whose stored job cannot be read ends
 *   failed with the reason (and its job's end), and is not returned.
 * - Returns: the claimed deliveries by priority, then run_at, then enqueue order.
 */
export async function claim(t: PgTx, request: ClaimRequest): Promise<ClaimResult> {
  const now = request.now ?? Date.now();
  const { queue, route, workerId } = request;
  const leaseUntil = now + request.leaseMs;
  const answer = (await run<ClaimedRow & { paused: boolean }>(t, 'claim', [queue, route, now, workerId, request.limit, leaseUntil])).rows;
  if (answer[0]?.paused) return { deliveries: [], nextRunAt: null, paused: true };
  const rows = answer.filter((row) => row.id !== null);
  // RETURNING keeps no order: claim order is priority, then run time, then enqueue order (the row key).
  rows.sort((a, b) => b.priority - a.priority || a.run_at - b.run_at || a.k - b.k);
  const claimed = { queue, route, workerId, now, leaseUntil };
  const deliveries: ClaimedDelivery[] = [];
  for (const row of rows) {
    const deliveryId = deliveryIdOf(row.id, row.dix);
    t.events.push({ type: 'started', queue, jobId: row.id, deliveryId, route, workerId, at: now });
    try {
      deliveries.push(toClaimed(row, claimed));
    } catch (cause) {
      // A stored job that cannot be read fails now, with why; the rows behind it still run.
      await run(t, 'finishBad', [row.id, row.dix, STATE_CODE.failed, now, JSON.stringify(unreadableJobError(row.id, cause))]);
      t.events.push({ type: 'failed', queue, jobId: row.id, deliveryId, route, workerId, at: now });
      await deliveryEnded(t, { queue, jobId: row.id, deliveryId, route, workerId, fanout: row.fanout, options: row.options }, 'failed', now);
    }
  }
  let nextRunAt: number | null = null;
  if (rows.length < request.limit) nextRunAt = (await run<{ run_at: number | null }>(t, 'nextRunAt', [queue, route, now, workerId])).rows[0]?.run_at ?? null;
  return { deliveries, nextRunAt };
}
