import { unreadableJobError, type ClaimRequest, type ClaimResult, type ClaimedDelivery } from '@skq/core/backend';
import { toClaimed, type DeliveryRow, type JobRow } from '../rows.js';
import { recordEvent } from './events.js';
import { deliveryEnded } from './job-endings.js';
import type { SqliteStore } from './store.js';

/**
 * Claim, in one write transaction; SQLite's single writer makes it atomic across processes.
 * - Reads: whether the route or the whole queue is paused (then nothing is taken and the answer
 *   says `paused`); the route's queued priorities, highest first (a skip scan of the queued index);
 *   each claimed delivery's job name, args and options; when fewer than `limit` were taken, the
 *   earliest future run_at of the deliveries this worker could take.
 * - Writes: up to `limit` due deliveries, shared or addressed to this worker, to running under a
 *   lease until `now + leaseMs`, attempts + 1, with a `started` event each. A delivery whose stored
 *   job cannot be read ends failed with the reason (a `failed` event, its job's end) and is not
 *   returned; the deliveries behind it still run.
 * - Returns: the claimed deliveries by priority, then run_at, then enqueue order; `nextRunAt` is
 *   null when `limit` deliveries were taken.
 */
export function claim(s: SqliteStore, request: ClaimRequest): ClaimResult {
  const now = request.now ?? Date.now();
  if (s.stmt.isPaused.get(request.queue, request.route)) return { deliveries: [], nextRunAt: null, paused: true };
  const rows: DeliveryRow[] = [];
  const params = { queue: request.queue, route: request.route, worker: request.workerId, now, lease_until: now + request.leaseMs };
  for (const { priority } of s.stmt.queuedPriorities.all(params) as { priority: number }[]) {
    // Each statement takes the next due delivery of this priority, so the rows come in claim order.
    while (rows.length < request.limit) {
      const row = s.stmt.claimAtPriority.get({ ...params, priority }) as DeliveryRow | undefined;
      if (!row) break;
      rows.push(row);
    }
    if (rows.length >= request.limit) break;
  }
  const deliveries: ClaimedDelivery[] = [];
  for (const row of rows) {
    const job = s.stmt.jobForRun.get(row.job_id) as Pick<JobRow, 'name' | 'args' | 'options'>;
    let claimed: ClaimedDelivery;
    try {
      claimed = toClaimed(row, job, now);
    } catch (cause) {
      // A stored job that cannot be read fails now, with why; the deliveries behind it still run.
      s.stmt.finish.run({ id: row.id, state: 'failed', now, result: null, error: JSON.stringify(unreadableJobError(row.job_id, cause)) });
      recordEvent(s, row.queue, 'failed', row.job_id, row.id, row.route, request.workerId, now);
      deliveryEnded(s, request.queue, row.job_id, row.route, 'failed', now);
      continue;
    }
    recordEvent(s, row.queue, 'started', row.job_id, row.id, row.route, request.workerId, now);
    deliveries.push(claimed);
  }
  let nextRunAt: number | null = null;
  if (rows.length < request.limit) {
    const next = s.stmt.nextRunAt.get({ queue: request.queue, route: request.route, now, worker: request.workerId }) as { run_at: number | null };
    nextRunAt = next.run_at;
  }
  return { deliveries, nextRunAt };
}
