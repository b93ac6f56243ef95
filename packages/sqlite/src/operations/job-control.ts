import { cancelledError } from '@skq/core/backend';
import type { DeliveryRow, JobRow } from '../rows.js';
import { STATE_CODE } from '../schema.js';
import { recordNotice, rowChanged } from './events.js';
import { deliveryEnded, removeJob } from './job-endings.js';
import { nextSeq, type SqliteStore } from './store.js';

// Changes asked of a job by id, outside any lease: cancel, reschedule, retry and removal.

/**
 * Cancel, in one write transaction. Reads: the job's queued and running rows in `queue`. Writes:
 * each queued one ended cancelled with why, stamped `cancelled`, its end recorded (see
 * {@link deliveryEnded}); each running one marked cancel-requested, with a `cancel-requested`
 * notice, so that its failure or lost lease ends it cancelled. Returns whether any was open.
 */
export function cancel(s: SqliteStore, queue: string, jobId: string): boolean {
  const now = Date.now();
  const rows = s.stmt.openDeliveries.all({ job: jobId, queue }) as (DeliveryRow & Pick<JobRow, 'fanout' | 'options'>)[];
  const error = JSON.stringify(cancelledError(jobId));
  for (const row of rows) {
    const deliveryId = `${row.id}.${row.dix}`;
    if (row.state === STATE_CODE.queued) {
      const seq = nextSeq(s);
      s.stmt.finishBad.run({ id: row.id, dix: row.dix, state: STATE_CODE.cancelled, now, outcome: error, seq });
      s.tallies.move(queue, row.route, STATE_CODE.queued, STATE_CODE.cancelled);
      rowChanged(s, seq, queue, 'cancelled', jobId, deliveryId, row.route, null, now);
      deliveryEnded(s, { queue, jobId, deliveryId, route: row.route!, workerId: null, fanout: row.fanout, options: row.options }, 'cancelled', now);
    } else {
      s.stmt.requestCancel.run(row.id, row.dix);
      recordNotice(s, queue, 'cancel-requested', jobId, deliveryId, row.route, row.worker_id, now);
    }
  }
  return rows.length > 0;
}

/**
 * Reschedule, in one write transaction. Reads: the job's queued rows in `queue`. Writes: their
 * run_at, stamped `rescheduled`. Returns whether any was queued.
 */
export function reschedule(s: SqliteStore, queue: string, jobId: string, runAt: number): boolean {
  const rows = s.stmt.queuedOf.all({ job: jobId, queue }) as { dix: number; route: string }[];
  const now = Date.now();
  for (const row of rows) {
    const seq = nextSeq(s);
    s.stmt.setRunAt.run({ id: jobId, dix: row.dix, run_at: runAt, seq, now });
    rowChanged(s, seq, queue, 'rescheduled', jobId, `${jobId}.${row.dix}`, row.route, null, now);
  }
  return rows.length > 0;
}

/**
 * Retry, in one write transaction. Reads: the job's failed and cancelled rows in `queue`. Writes:
 * each queued again at `runAt`, allowed `attempts` more attempts, its worker, lease, end, outcome
 * and cancel request cleared, stamped `retrying`; the job open again when any was. Returns how many.
 */
export function retryJob(s: SqliteStore, queue: string, jobId: string, request: { runAt: number; attempts: number }): number {
  const rows = s.stmt.endedBadOf.all({ job: jobId, queue }) as { dix: number; route: string; state: number }[];
  const now = Date.now();
  for (const row of rows) {
    const seq = nextSeq(s);
    s.stmt.retry.run({ id: jobId, dix: row.dix, run_at: request.runAt, attempts: request.attempts, seq, now });
    s.tallies.move(queue, row.route, row.state, STATE_CODE.queued);
    rowChanged(s, seq, queue, 'retrying', jobId, `${jobId}.${row.dix}`, row.route, null, now);
  }
  if (rows.length) s.stmt.reopen.run(jobId);
  return rows.length;
}

/**
 * Removal, in one write transaction. Reads: per job, its queue and how many of its rows run.
 * Writes: each job found in `queue` with none running deleted with its logs (see
 * {@link removeJob}), a `removed` notice each. Returns the ids removed; a missing or running job is
 * left out.
 */
export function removeJobs(s: SqliteStore, queue: string, jobIds: string[]): string[] {
  const now = Date.now();
  return jobIds.filter((jobId) => {
    const found = s.stmt.removable.get(jobId) as { queue: string | null; running: number };
    if (found.queue !== queue || found.running > 0) return false;
    removeJob(s, jobId);
    recordNotice(s, queue, 'removed', jobId, null, null, null, now);
    return true;
  });
}
