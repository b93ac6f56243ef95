import { unreadableJobError, type ClaimRequest, type ClaimResult, type ClaimedDelivery } from '@skq/core/backend';
import { toClaimed, type ClaimedRow } from '../rows.js';
import { STATE_CODE } from '../schema.js';
import { deliveryIdOf, run, type PgTx } from '../store.js';
import { deliveryEnded } from './job-endings.js';

/** A claimed row whose stored job could not be read: it is failed by {@link failUnreadable}. */
export interface UnreadableClaim {
  row: ClaimedRow;
  cause: unknown;
}

/**
 * Claim, one statement, its own transaction.
 * - Reads: whether the route or the whole queue is paused (then nothing is taken and the answer says
 *   `paused`); the route's queued priorities, highest first, and per priority its due rows in run_at
 *   order (the queued index), skipping rows another transaction holds (`SKIP LOCKED`), so that
 *   concurrent claims never wait for each other nor take the same row; when fewer than `limit` were
 *   taken, the earliest future run_at of the rows this worker could take.
 * - Writes: up to `limit` due rows, shared or addressed to this worker, to running under a lease until
 *   `now + leaseMs`, attempts + 1; a `started` event each, published by the statement.
 * - Returns: the claimed deliveries by priority, then run_at, then enqueue order; apart, the rows whose
 *   stored job cannot be read, for {@link failUnreadable}.
 */
export async function claim(t: PgTx, request: ClaimRequest): Promise<ClaimResult & { unreadable: UnreadableClaim[] }> {
  const now = request.now ?? Date.now();
  const { queue, route, workerId } = request;
  const leaseUntil = now + request.leaseMs;
  const answer = (await run<ClaimedRow & { paused: boolean; next_run_at: number | null }>(t, 'claim', [queue, route, now, workerId, request.limit, leaseUntil, t.store.channel])).rows;
  if (answer[0]?.paused) return { deliveries: [], nextRunAt: null, paused: true, unreadable: [] };
  const nextRunAt = answer[0]?.next_run_at ?? null;
  const rows = answer.filter((row) => row.id !== null);
  // RETURNING keeps no order: claim order is priority, then run time, then enqueue order (the row key).
  rows.sort((a, b) => b.priority - a.priority || a.run_at - b.run_at || a.k - b.k);
  const claimed = { queue, route, workerId, now, leaseUntil };
  const deliveries: ClaimedDelivery[] = [];
  const unreadable: UnreadableClaim[] = [];
  for (const row of rows) {
    try {
      deliveries.push(toClaimed(row, claimed));
    } catch (cause) {
      unreadable.push({ row, cause });
    }
  }
  return { deliveries, nextRunAt, unreadable };
}

/**
 * Claimed rows whose stored job cannot be read, failed with the reason, in one transaction: the rows
 * behind them still run. Writes: each row ended failed under the claim's lease (a `failed` event),
 * and its end (see {@link deliveryEnded}). Should this never commit (a crash), the leases expire and
 * recovery queues the rows again.
 */
export async function failUnreadable(t: PgTx, request: ClaimRequest, unreadable: UnreadableClaim[]): Promise<void> {
  const { queue, route, workerId } = request;
  const now = Date.now();
  for (const { row, cause } of unreadable) {
    const deliveryId = deliveryIdOf(row.id, row.dix);
    await run(t, 'finishBad', [row.id, row.dix, STATE_CODE.failed, now, JSON.stringify(unreadableJobError(row.id, cause))]);
    t.events.push({ type: 'failed', queue, jobId: row.id, deliveryId, route, workerId, at: now });
    await deliveryEnded(t, { queue, jobId: row.id, deliveryId, route, workerId, fanout: row.fanout, options: row.options }, 'failed', now);
  }
}
