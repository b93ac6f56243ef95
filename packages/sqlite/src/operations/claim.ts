import type { Statement } from 'better-sqlite3';
import { unreadableJobError, type ClaimRequest, type ClaimResult, type ClaimedDelivery } from '@skq/core/backend';
import { toClaimed, type ClaimedRow } from '../rows.js';
import { STATE_CODE } from '../schema.js';
import { rowChanged } from './events.js';
import { claimByTurns, ruleOf, windowOpensAt } from './group-claim.js';
import { deliveryEnded } from './job-endings.js';
import { nextSeq, peekSeq, type SqliteStore } from './store.js';

/**
 * Claim, in one write transaction; SQLite's single writer makes it atomic across processes.
 * - Reads: whether the route or the whole queue is paused (then nothing is taken and the answer
 *   says `paused`); the route's limits and, with a rate, its starts in the window; whether grouped
 *   jobs are queued on the route. Without: the route's queued priorities, highest first (a skip scan
 *   of the queued index); with, the groups' turns (see {@link claimByTurns}). When fewer than
 *   `limit` were taken, the earliest future run_at of the rows this worker could take.
 * - Writes: up to `limit` due rows, shared or addressed to this worker, to running under a lease
 *   until `now + leaseMs`, attempts + 1, stamped `started`; with a route rate, a start logged per row.
 *   Without groups, one read per priority takes its due rows with what the worker needs (the job's
 *   name, args and options are in the row); with groups, one read per turn takes a group's next; each
 *   row is then set running by its key. A row whose stored job cannot be read ends failed with the reason (and
 *   its job's end) and is not returned; the rows behind it still run. What a completion needs of each
 *   row handed out is kept (`s.held`), so that it reads nothing.
 * - Returns: the claimed deliveries by priority, then run_at, then enqueue order (by turns where
 *   groups wait); `nextRunAt` is null when `limit` deliveries were taken; `limited` when a limit held due work back.
 */
export function claim(s: SqliteStore, request: ClaimRequest): ClaimResult {
  const now = request.now ?? Date.now();
  const { queue, route } = request;
  if (s.stmt.isPaused.get(queue, route)) return { deliveries: [], nextRunAt: null, paused: true };
  const deliveries: ClaimedDelivery[] = [];
  const claimed = { queue, route, workerId: request.workerId, now, leaseUntil: now + request.leaseMs };
  // A due row read by either claim is set running by its key, and handed out as the claim left it (one more attempt, no cancel asked).
  const take = (row: ClaimedRow) => {
    s.stmt.claimRow.run(claimed.workerId, claimed.leaseUntil, now, peekSeq(s), now, row[17]);
    row[5] += 1;
    row[11] = null;
    takeRow(s, row, claimed, deliveries);
  };
  const routeRate = ruleOf(s.groupStmt.limitsOf.get(queue, 1, route) as never)?.rate ?? null;
  let limit = request.limit;
  if (routeRate) {
    const opensAt = windowOpensAt(s, 1, queue, route, routeRate, now);
    if (opensAt !== null) return { deliveries, nextRunAt: opensAt, limited: true };
    const { n } = s.groupStmt.startsSince.get(queue, 1, route, now - routeRate.perMs) as { n: number };
    limit = Math.min(limit, routeRate.max - n);
  }
  let result: ClaimResult;
  if (s.groupStmt.anyGroupedQueued.get(queue, route)) {
    const turns = claimByTurns(s, request, limit, now, take);
    const ungroupedNext = turns.taken < request.limit ? nextRunAtOf(s, request, now) : null;
    const nextRunAt = [turns.nextRunAt, ungroupedNext].reduce<number | null>((a, b) => (a === null ? b : b === null ? a : Math.min(a, b)), null);
    result = { deliveries, nextRunAt: turns.taken < request.limit ? nextRunAt : null, ...(turns.limited && { limited: true }) };
  } else {
    const taken = claimInOrder(s, request, limit, now, take);
    result = { deliveries, nextRunAt: taken < request.limit ? nextRunAtOf(s, request, now) : null };
  }
  if (routeRate) {
    for (let i = 0; i < deliveries.length; i += 1) s.groupStmt.addStart.run(queue, 1, route, now);
    if (deliveries.length >= limit && limit < request.limit) {
      result.limited = true;
      result.nextRunAt = windowOpensAt(s, 1, queue, route, routeRate, now) ?? result.nextRunAt;
    }
  }
  return result;
}

/** The claim of a route where no grouped job waits: priority by priority, its due rows in run_at order. Returns how many it took. */
function claimInOrder(s: SqliteStore, request: ClaimRequest, limit: number, now: number, take: (row: ClaimedRow) => void): number {
  const params = { queue: request.queue, route: request.route, worker: request.workerId, now, priority: 0 };
  let taken = 0;
  if (limit <= 0) return 0;
  for (const { priority } of s.stmt.queuedPriorities.all(params) as { priority: number }[]) {
    params.priority = priority;
    for (;;) {
      const wanted = Math.min(limit - taken, ROWS_PER_READ);
      const rows = dueAtPriority(s, wanted).all(params) as ClaimedRow[];
      for (const row of rows) {
        take(row);
        taken += 1;
      }
      if (rows.length < wanted || taken >= limit) break;
    }
    if (taken >= limit) break;
  }
  return taken;
}

/** The most due rows one read takes: a larger claim reads again (and at most this many statements are prepared). */
const ROWS_PER_READ = 1_024;

/** The statement reading at most `limit` due rows of a priority: one per limit, prepared on first use. */
function dueAtPriority(s: SqliteStore, limit: number): Statement {
  let statement = s.dueAtPriority.get(limit);
  if (!statement) s.dueAtPriority.set(limit, (statement = s.prepareDueAtPriority(limit)));
  return statement;
}

/** The earliest future run_at of the route's queued rows without a group that this worker could take, or null. */
function nextRunAtOf(s: SqliteStore, request: ClaimRequest, now: number): number | null {
  return (s.stmt.nextRunAt.get({ queue: request.queue, route: request.route, now, worker: request.workerId }) as { run_at: number | null }).run_at;
}

/**
 * A row the claim set running: its change sequence taken, counted, stamped `started` and handed out;
 * a row whose stored job cannot be read ends failed at once, with why, and is not handed out.
 */
function takeRow(s: SqliteStore, row: ClaimedRow, claimed: Parameters<typeof toClaimed>[2], deliveries: ClaimedDelivery[]): void {
  const { queue, route, workerId, now } = claimed;
  const seq = nextSeq(s);
  s.tallies.move(queue, route, STATE_CODE.queued, STATE_CODE.running);
  const { 0: id, 1: dix, 14: options, 15: fanout } = row;
  const deliveryId = `${id}.${dix}`;
  rowChanged(s, seq, queue, 'started', id, deliveryId, route, workerId, now);
  try {
    deliveries.push(toClaimed(row, deliveryId, claimed));
    s.held.add(deliveryId, { k: row[17], id, dix, route, fanout, options });
  } catch (cause) {
    const failedSeq = nextSeq(s);
    s.stmt.finishBad.run({ id, dix, state: STATE_CODE.failed, now, outcome: JSON.stringify(unreadableJobError(id, cause)), seq: failedSeq });
    s.tallies.move(queue, route, STATE_CODE.running, STATE_CODE.failed);
    rowChanged(s, failedSeq, queue, 'failed', id, deliveryId, route, workerId, now);
    deliveryEnded(s, { queue, jobId: id, deliveryId, route, workerId, fanout, options }, 'failed', now);
  }
}
