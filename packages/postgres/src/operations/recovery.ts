import { expiredLeaseError, expiredLeaseOutcome, workerGoneError } from '@skq/core/backend';
import type { DeliveryRow, JobRow } from '../rows.js';
import { STATE_CODE } from '../schema.js';
import { deliveryIdOf, run, type PgTx } from '../store.js';
import { deliveryEnded } from './job-endings.js';

type RecoveredRow = DeliveryRow & Pick<JobRow, 'fanout' | 'options'>;

/**
 * Recovery of a queue, in one transaction.
 * - Reads: the queue's running rows whose lease ended before `now` (the running index), and up to 500
 *   queued broadcast rows whose worker has no live registration; each locked, skipping rows another
 *   transaction holds (a worker finishing it now, or another recovery).
 * - Writes: each expired row ended cancelled when a cancel was asked, else queued again at `now` with
 *   recoveries + 1 while it has recoveries left, else ended failed; an ended one stores why (the lease
 *   expired) as its error. Each orphaned broadcast row ended failed with `WORKER_GONE`. An event of
 *   each outcome; each ended one's end recorded (see {@link deliveryEnded}). Rate windows' starts
 *   and group holds that no longer count are deleted.
 * - Returns: how many deliveries it took back or ended.
 */
export async function recoverExpired(t: PgTx, queue: string, now: number): Promise<number> {
  const expired = (await run<RecoveredRow>(t, 'expired', [queue, now])).rows;
  for (const row of expired) {
    const deliveryId = deliveryIdOf(row.id, row.dix);
    const outcome = expiredLeaseOutcome({ cancelRequested: row.cancel_requested === true, recoveries: row.recoveries });
    if (outcome === 'recovered') await run(t, 'recover', [row.id, row.dix, now]);
    else {
      const error = JSON.stringify(expiredLeaseError({ id: deliveryId, workerId: row.worker_id, recoveries: row.recoveries }, outcome));
      await run(t, 'finishBad', [row.id, row.dix, STATE_CODE[outcome], now, error]);
    }
    t.events.push({ type: outcome, queue, jobId: row.id, deliveryId, route: row.route, workerId: row.worker_id, at: now });
    if (outcome !== 'recovered') {
      await deliveryEnded(t, { queue, jobId: row.id, deliveryId, route: row.route!, workerId: row.worker_id, fanout: row.fanout, options: row.options }, outcome, now);
    }
  }
  const orphaned = (await run<RecoveredRow>(t, 'orphaned', [queue, now])).rows;
  for (const row of orphaned) {
    const deliveryId = deliveryIdOf(row.id, row.dix);
    const error = JSON.stringify(workerGoneError({ id: deliveryId, targetWorker: row.target_worker }));
    await run(t, 'finishBad', [row.id, row.dix, STATE_CODE.failed, now, error]);
    t.events.push({ type: 'failed', queue, jobId: row.id, deliveryId, route: row.route, workerId: row.target_worker, at: now });
    await deliveryEnded(t, { queue, jobId: row.id, deliveryId, route: row.route!, workerId: row.target_worker, fanout: row.fanout, options: row.options }, 'failed', now);
  }
  await run(t, 'dropEndedLimits', [queue, now]);
  return expired.length + orphaned.length;
}
