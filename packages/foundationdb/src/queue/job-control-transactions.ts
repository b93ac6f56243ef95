// The transactions that act on a job by id: cancel, reschedule, retry and remove. Each body runs in
// the port's retry loop (the backend runs them with a marker, so a retry returns the first answer).
import { cancelledError, type RetentionSchedule } from '@skq/core/backend';
import { deleteJob, endDelivery } from './ending-transactions.js';
import type { QueueTransaction } from './queue-transaction.js';

/**
 * Cancel. Reads: the job and its deliveries. Writes: queued deliveries cancelled (pending keys
 * cleared, counters, events, the job's end), a cancel request on running ones. Returns whether any
 * delivery was open. Run with a marker (a retry returns the first answer).
 */
export async function cancelJob(qt: QueueTransaction, jobId: string, retention: RetentionSchedule): Promise<boolean> {
  const job = await qt.job(jobId);
  if (!job) return false;
  let open = false;
  for (const d of await qt.deliveriesOf(job)) {
    if (d.state === 'queued') {
      open = true;
      qt.removePending(d);
      d.error = cancelledError(jobId);
      await endDelivery(qt, d, 'cancelled', null, retention);
    } else if (d.state === 'running') {
      open = true;
      d.cancelRequested = true;
      qt.putDelivery(d);
      qt.event('cancel-requested', jobId, d.id, d.route, d.workerId);
    }
  }
  return open;
}

/** Reschedule. Reads: the job and its deliveries. Writes: each queued one's pending key moved to `runAt`, events. Returns false if none was queued. */
export async function rescheduleJob(qt: QueueTransaction, jobId: string, runAt: number): Promise<boolean> {
  const job = await qt.job(jobId);
  if (!job) return false;
  let moved = false;
  for (const d of await qt.deliveriesOf(job)) {
    if (d.state !== 'queued') continue;
    moved = true;
    qt.removePending(d);
    d.runAt = runAt;
    qt.addPending(d);
    qt.putDelivery(d);
    qt.event('rescheduled', jobId, d.id, d.route, null);
  }
  return moved;
}

/**
 * Retry. Reads: the job and its deliveries. Writes: failed and cancelled deliveries queued again
 * with a fresh budget (pending keys, counters, events), the job's end undone. Returns how many.
 * `seen` holds, across reruns of the transaction, the attempt count each delivery had when first
 * read: a rerun (after a conflict with another retry) retries only an ending it first saw, not a
 * later one (the retried job ran and failed again meanwhile), so of two retries racing, exactly
 * one wins, as on stores that run the retry as one atomic step.
 */
export async function retryJob(qt: QueueTransaction, jobId: string, request: { runAt: number; attempts: number }, seen = new Map<string, number>()): Promise<number> {
  const job = await qt.job(jobId);
  if (!job) return 0;
  let n = 0;
  for (const d of await qt.deliveriesOf(job)) {
    if (!seen.has(d.id)) seen.set(d.id, d.attempts);
    if (d.state !== 'failed' && d.state !== 'cancelled') continue;
    if (seen.get(d.id) !== d.attempts) continue;
    n += 1;
    qt.count(d, d.state, 'queued');
    Object.assign(d, { state: 'queued', runAt: request.runAt, maxAttempts: d.attempts - d.recoveries + request.attempts, workerId: null });
    Object.assign(d, { leaseUntil: null, leaseVersion: null, finishedAt: null, result: null, error: null, cancelRequested: false, lastEnd: null });
    qt.addPending(d);
    qt.putDelivery(d);
    qt.event('retrying', jobId, d.id, d.route, null);
  }
  if (n) {
    qt.unmarkEnded(job);
    qt.putJob(job);
  }
  return n;
}

/** Remove. Reads: each job and its deliveries. Writes: every key of each job that has no running delivery cleared, `removed` events. Returns the ids deleted. */
export async function removeJobs(qt: QueueTransaction, jobIds: string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const jobId of jobIds) {
    const job = await qt.job(jobId);
    if (!job) continue;
    const deliveries = await qt.deliveriesOf(job);
    if (deliveries.some((d) => d.state === 'running')) continue;
    deleteJob(qt, job, deliveries);
    qt.event('removed', jobId, null, null, null);
    removed.push(jobId);
  }
  return removed;
}
