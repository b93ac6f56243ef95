import { expiredLeaseError, expiredLeaseOutcome, workerGoneError } from '@skq/core/backend';
import type { DeliveryRow } from '../rows.js';
import { recordEvent } from './events.js';
import { deliveryEnded } from './job-endings.js';
import type { SqliteStore } from './store.js';

/**
 * Recovery of a queue, in one write transaction.
 * - Reads: the queue's running deliveries whose lease ended before `now` (the running index); up to
 *   500 queued broadcast deliveries whose worker has no live registration (the addressed index).
 * - Writes: each expired delivery ended cancelled when a cancel was asked, else queued again at
 *   `now` with recoveries + 1 while it has recoveries left, else ended failed; an ended one stores
 *   why (the lease expired) as its error. Each orphaned broadcast delivery ended failed with
 *   `WORKER_GONE`. An event per delivery named after its outcome; each ended one's end recorded
 *   (see {@link deliveryEnded}).
 * - Returns: how many deliveries it took back or ended.
 */
export function recoverExpired(s: SqliteStore, queue: string, now: number): number {
  const expired = s.stmt.expired.all(queue, now) as DeliveryRow[];
  for (const row of expired) {
    const outcome = expiredLeaseOutcome({ cancelRequested: row.cancel_requested === 1, recoveries: row.recoveries });
    if (outcome === 'recovered') s.stmt.recover.run(now, row.id);
    else {
      const error = JSON.stringify(expiredLeaseError({ id: row.id, workerId: row.worker_id, recoveries: row.recoveries }, outcome));
      s.stmt.finish.run({ id: row.id, state: outcome, now, result: null, error });
    }
    recordEvent(s, queue, outcome, row.job_id, row.id, row.route, row.worker_id, now);
    if (outcome !== 'recovered') deliveryEnded(s, queue, row.job_id, row.route, outcome, now);
  }
  const orphaned = s.stmt.orphaned.all({ queue, now }) as DeliveryRow[];
  for (const row of orphaned) {
    const error = JSON.stringify(workerGoneError({ id: row.id, targetWorker: row.target_worker }));
    s.stmt.finish.run({ id: row.id, state: 'failed', now, result: null, error });
    recordEvent(s, queue, 'failed', row.job_id, row.id, row.route, row.target_worker, now);
    deliveryEnded(s, queue, row.job_id, row.route, 'failed', now);
  }
  return expired.length + orphaned.length;
}
