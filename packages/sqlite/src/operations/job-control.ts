import { cancelledError } from '@skq/core/backend';
import type { DeliveryRow } from '../rows.js';
import { recordEvent } from './events.js';
import { deliveryEnded, jobReopened, removeJob } from './job-endings.js';
import type { SqliteStore } from './store.js';

// Changes asked of a job by id, outside any lease: cancel, reschedule, retry and removal.

/**
 * Cancel, in one write transaction. Reads: the job's queued and running deliveries in `queue`.
 * Writes: each queued one ended cancelled with why, a `cancelled` event and its end recorded (see
 * {@link deliveryEnded}); each running one marked cancel-requested, with a `cancel-requested`
 * event, so that its failure or lost lease ends it cancelled. Returns whether any was open.
 */
export function cancel(s: SqliteStore, queue: string, jobId: string): boolean {
  const now = Date.now();
  const rows = s.stmt.openDeliveries.all({ job: jobId, queue }) as DeliveryRow[];
  const error = JSON.stringify(cancelledError(jobId));
  for (const row of rows) {
    if (row.state === 'queued') {
      s.stmt.finish.run({ id: row.id, state: 'cancelled', now, result: null, error });
      recordEvent(s, row.queue, 'cancelled', jobId, row.id, row.route, null, now);
      deliveryEnded(s, queue, jobId, row.route, 'cancelled', now);
    } else {
      s.stmt.requestCancel.run(row.id);
      recordEvent(s, row.queue, 'cancel-requested', jobId, row.id, row.route, row.worker_id, now);
    }
  }
  return rows.length > 0;
}

/**
 * Reschedule, in one write transaction. Reads: the job's queued deliveries in `queue`. Writes: their
 * run_at, a `rescheduled` event each. Returns whether any was queued.
 */
export function reschedule(s: SqliteStore, queue: string, jobId: string, runAt: number): boolean {
  const rows = s.stmt.queuedOf.all({ job: jobId, queue }) as DeliveryRow[];
  for (const row of rows) {
    s.stmt.setRunAt.run(runAt, row.id);
    recordEvent(s, row.queue, 'rescheduled', jobId, row.id, row.route, null, Date.now());
  }
  return rows.length > 0;
}

/**
 * Retry, in one write transaction. Reads: the job's failed and cancelled deliveries in `queue`.
 * Writes: each queued again at `runAt`, allowed `attempts` more attempts, its worker, lease, end,
 * result, error and cancel request cleared, a `retrying` event each; the job open again when any
 * was. Returns how many.
 */
export function retryJob(s: SqliteStore, queue: string, jobId: string, request: { runAt: number; attempts: number }): number {
  const rows = s.stmt.endedBadOf.all({ job: jobId, queue }) as DeliveryRow[];
  const now = Date.now();
  for (const row of rows) {
    s.stmt.retry.run({ id: row.id, run_at: request.runAt, attempts: request.attempts });
    recordEvent(s, queue, 'retrying', jobId, row.id, row.route, null, now);
  }
  if (rows.length) jobReopened(s, jobId);
  return rows.length;
}

/**
 * Removal, in one write transaction. Reads: per job, whether it is in `queue` and how many of its
 * deliveries run. Writes: each job found with none running deleted with its deliveries and logs
 * (see {@link removeJob}), a `removed` event each. Returns the ids removed; a missing or running
 * job is left out.
 */
export function removeJobs(s: SqliteStore, queue: string, jobIds: string[]): string[] {
  const now = Date.now();
  return jobIds.filter((jobId) => {
    const found = s.stmt.removable.get(jobId, queue) as { running: number } | undefined;
    if (!found || found.running > 0) return false;
    removeJob(s, jobId);
    recordEvent(s, queue, 'removed', jobId, null, null, null, now);
    return true;
  });
}
