import { cancelledError } from '@skq/core/backend';
import type { DeliveryRow, JobRow } from '../rows.js';
import { STATE_CODE } from '../schema.js';
import { deliveryIdOf, run, type PgTx } from '../store.js';
import { deliveryEnded, removeJob } from './job-endings.js';

// Changes asked of a job by id, outside any lease: cancel, reschedule, retry and removal. Each locks
// the rows it reads, so that a worker's write or another change to them waits for its commit.

/**
 * Cancel, in one transaction. Reads: the job's queued and running rows in `queue`, locked. Writes:
 * each queued one ended cancelled with why, its end recorded (see {@link deliveryEnded}); each
 * running one marked cancel-requested (a `cancel-requested` event), so that its failure or lost lease
 * ends it cancelled. Returns whether any was open.
 */
export async function cancel(t: PgTx, queue: string, jobId: string): Promise<boolean> {
  const now = Date.now();
  const { rows } = await run<DeliveryRow & Pick<JobRow, 'fanout' | 'options'>>(t, 'openDeliveries', [jobId, queue]);
  const error = JSON.stringify(cancelledError(jobId));
  for (const row of rows) {
    const deliveryId = deliveryIdOf(row.id, row.dix);
    if (row.state === STATE_CODE.queued) {
      await run(t, 'finishBad', [row.id, row.dix, STATE_CODE.cancelled, now, error]);
      t.events.push({ type: 'cancelled', queue, jobId, deliveryId, route: row.route, workerId: null, at: now });
      await deliveryEnded(t, { queue, jobId, deliveryId, route: row.route!, workerId: null, fanout: row.fanout, options: row.options }, 'cancelled', now);
    } else {
      await run(t, 'requestCancel', [row.id, row.dix]);
      t.events.push({ type: 'cancel-requested', queue, jobId, deliveryId, route: row.route, workerId: row.worker_id, at: now });
    }
  }
  return rows.length > 0;
}

/** Reschedule, in one transaction. Reads: the job's queued rows in `queue`, locked. Writes: their run_at; a `rescheduled` event each. Returns whether any was queued. */
export async function reschedule(t: PgTx, queue: string, jobId: string, runAt: number): Promise<boolean> {
  const { rows } = await run<{ dix: number; route: string }>(t, 'queuedOf', [jobId, queue]);
  const now = Date.now();
  for (const row of rows) {
    await run(t, 'setRunAt', [jobId, row.dix, runAt]);
    t.events.push({ type: 'rescheduled', queue, jobId, deliveryId: deliveryIdOf(jobId, row.dix), route: row.route, workerId: null, at: now });
  }
  return rows.length > 0;
}

/**
 * Retry, in one transaction. Reads: the job's failed and cancelled rows in `queue`, locked (of two
 * retries at once, the second finds none). Writes: each queued again at `runAt`, allowed `attempts`
 * more attempts, its worker, lease, end, outcome and cancel request cleared (a `retrying` event each);
 * the job open again when any was. Returns how many.
 */
export async function retryJob(t: PgTx, queue: string, jobId: string, request: { runAt: number; attempts: number }): Promise<number> {
  // The job's first row first, as retention's trim locks it: a retry and a trim of one job take turns.
  await run(t, 'lockJob', [jobId]);
  const { rows } = await run<{ dix: number; route: string; state: number }>(t, 'endedBadOf', [jobId, queue]);
  const now = Date.now();
  for (const row of rows) {
    await run(t, 'retry', [jobId, row.dix, request.runAt, request.attempts]);
    t.events.push({ type: 'retrying', queue, jobId, deliveryId: deliveryIdOf(jobId, row.dix), route: row.route, workerId: null, at: now });
  }
  if (rows.length) await run(t, 'reopen', [jobId]);
  return rows.length;
}

/**
 * Removal, in one transaction. Reads: per job, its queue and how many of its rows run. Writes: each
 * job found in `queue` with none running deleted with its logs (a `removed` event each). Returns the
 * ids removed; a missing or running job is left out.
 */
export async function removeJobs(t: PgTx, queue: string, jobIds: string[]): Promise<string[]> {
  const now = Date.now();
  const removed: string[] = [];
  for (const jobId of jobIds) {
    await run(t, 'lockJobRows', [jobId]);
    const found = (await run<{ queue: string; running: number }>(t, 'removable', [jobId])).rows[0];
    if (!found || found.queue !== queue || found.running > 0) continue;
    await removeJob(t, jobId);
    t.events.push({ type: 'removed', queue, jobId, deliveryId: null, route: null, workerId: null, at: now });
    removed.push(jobId);
  }
  return removed;
}
