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
 * Claim, one statement, its own transaction (a route where grouped jobs wait or with limits: by turns, see {@link claimByTurns}).
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
  const params = [queue, route, now, workerId, request.limit, leaseUntil, t.store.channel];
  const routeKey = `${queue}\u0000${route}`;
  // A route claimed by turns last time is claimed so again at once (the function claims the jobs without a group too).
  if (t.store.byTurns.has(routeKey)) return claimByTurns(t, request, params, routeKey);
  const answer = (await run<ClaimedRow & { paused: boolean; by_turns: boolean; next_run_at: number | null }>(t, 'claim', params)).rows;
  if (answer[0]?.paused) return { deliveries: [], nextRunAt: null, paused: true, unreadable: [] };
  if (answer[0]?.by_turns) return claimByTurns(t, request, params, routeKey);
  const nextRunAt = answer[0]?.next_run_at ?? null;
  const rows = answer.filter((row) => row.id !== null);
  // RETURNING keeps no order: claim order is priority, then run time, then enqueue order (the row key).
  rows.sort((a, b) => b.priority - a.priority || a.run_at - b.run_at || a.k - b.k);
  return readClaimed(rows, { queue, route, workerId, now, leaseUntil }, { nextRunAt });
}

/**
 * The claim of a route where grouped jobs wait or with limits: the function `claim_by_turns`
 * (claim-by-turns.ts), one statement with the started events. Checks the pause first. The route is
 * claimed so until a claim finds it has neither groups nor limits left.
 */
async function claimByTurns(t: PgTx, request: ClaimRequest, params: unknown[], routeKey: string): Promise<ClaimResult & { unreadable: UnreadableClaim[] }> {
  const { queue, route, workerId } = request;
  const [now, leaseUntil] = [params[2] as number, params[5] as number];
  if ((await run(t, 'isPaused', [queue, route])).rows.length) return { deliveries: [], nextRunAt: null, paused: true, unreadable: [] };
  const answer = (await run<ClaimedRow & { limited: boolean | null; next_run_at: number | null; by_turns: boolean | null }>(t, 'claimByTurns', params)).rows;
  const summary = answer.at(-1)!;
  if (summary.by_turns) t.store.byTurns.add(routeKey);
  else t.store.byTurns.delete(routeKey);
  // The function answers in turn order.
  const rows = answer.filter((row) => row.id !== null);
  return readClaimed(rows, { queue, route, workerId, now, leaseUntil }, { nextRunAt: summary.next_run_at, ...(summary.limited && { limited: true }) });
}

/** The claimed rows as deliveries; apart, those whose stored job cannot be read. */
function readClaimed(
  rows: ClaimedRow[],
  claimed: Parameters<typeof toClaimed>[1],
  rest: Pick<ClaimResult, 'nextRunAt' | 'limited'>,
): ClaimResult & { unreadable: UnreadableClaim[] } {
  const deliveries: ClaimedDelivery[] = [];
  const unreadable: UnreadableClaim[] = [];
  for (const row of rows) {
    try {
      deliveries.push(toClaimed(row, claimed));
    } catch (cause) {
      unreadable.push({ row, cause });
    }
  }
  return { deliveries, ...rest, unreadable };
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
