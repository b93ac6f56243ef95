import { expiredLeaseError, expiredLeaseOutcome, workerGoneError } from '@skq/core/backend';
import type { DeliveryRow, JobRow } from '../rows.js';
import { STATE_CODE } from '../schema.js';
import { rowChanged } from './events.js';
import { dropEndedLimits } from './groups.js';
import { deliveryEnded } from './job-endings.js';
import { nextSeq, type SqliteStore } from './store.js';

type RecoveredRow = DeliveryRow & Pick<JobRow, 'fanout' | 'options'>;

/**
 * Recovery of a queue, in one write transaction.
 * - Reads: the queue's running rows whose lease ended before `now` (the running index); up to 500
 *   queued broadcast rows whose worker has no live registration (the addressed index).
 * - Writes: each expired row ended cancelled when a cancel was asked, else queued again at `now`
 *   with recoveries + 1 while it has recoveries left, else ended failed; an ended one stores why
 *   (the lease expired) as its error. Each orphaned broadcast row ended failed with `WORKER_GONE`.
 *   Each stamped with its outcome; each ended one's end recorded (see {@link deliveryEnded}). Rate
 *   windows' starts and group holds that no longer count are deleted.
 * - Returns: how many deliveries it took back or ended.
 */
export function recoverExpired(s: SqliteStore, queue: string, now: number): number {
  const expired = s.stmt.expired.all(queue, now) as RecoveredRow[];
  for (const row of expired) {
    const deliveryId = `${row.id}.${row.dix}`;
    const outcome = expiredLeaseOutcome({ cancelRequested: row.cancel_requested === 1, recoveries: row.recoveries });
    const seq = nextSeq(s);
    if (outcome === 'recovered') {
      s.stmt.recover.run({ id: row.id, dix: row.dix, now, seq });
      s.tallies.move(queue, row.route, STATE_CODE.running, STATE_CODE.queued);
    } else {
      const error = JSON.stringify(expiredLeaseError({ id: deliveryId, workerId: row.worker_id, recoveries: row.recoveries }, outcome));
      s.stmt.finishBad.run({ id: row.id, dix: row.dix, state: STATE_CODE[outcome], now, outcome: error, seq });
      s.tallies.move(queue, row.route, STATE_CODE.running, STATE_CODE[outcome]);
    }
    rowChanged(s, seq, queue, outcome, row.id, deliveryId, row.route, row.worker_id, now);
    if (outcome !== 'recovered') deliveryEnded(s, { queue, jobId: row.id, deliveryId, route: row.route!, workerId: row.worker_id, fanout: row.fanout, options: row.options }, outcome, now);
  }
  const orphaned = s.stmt.orphaned.all({ queue, now }) as RecoveredRow[];
  for (const row of orphaned) {
    const deliveryId = `${row.id}.${row.dix}`;
    const error = JSON.stringify(workerGoneError({ id: deliveryId, targetWorker: row.target_worker }));
    const seq = nextSeq(s);
    s.stmt.finishBad.run({ id: row.id, dix: row.dix, state: STATE_CODE.failed, now, outcome: error, seq });
    s.tallies.move(queue, row.route, STATE_CODE.queued, STATE_CODE.failed);
    rowChanged(s, seq, queue, 'failed', row.id, deliveryId, row.route, row.target_worker, now);
    deliveryEnded(s, { queue, jobId: row.id, deliveryId, route: row.route!, workerId: row.target_worker, fanout: row.fanout, options: row.options }, 'failed', now);
  }
  dropEndedLimits(s, queue, now);
  return expired.length + orphaned.length;
}
