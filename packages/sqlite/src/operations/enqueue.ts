import { SkqError, type WorkerInfo } from '@skq/core';
import { newDelivery, planDeliveries, type EnqueueResult, type NewJob } from '@skq/core/backend';
import { recordEvent } from './events.js';
import { jobEndedEmpty } from './job-endings.js';
import type { SqliteStore } from './store.js';
import { liveWorkers } from './workers-and-commands.js';

/**
 * Enqueue, in one write transaction (a schedule's firing also enqueues through here). For each job,
 * in order:
 * - Reads: with a dedupe key, the job id's stored queue and delivery count, then the queue's job
 *   with that key and a queued or running delivery; for the first broadcast, the queue's live workers.
 * - Writes: the job row, then one delivery per target (each route, or each route and live worker
 *   of a broadcast) and an `enqueued` event each. A job with no target ends at once (ended_kind
 *   `failed`, shown `cancelled`) with a `cancelled` event.
 * - Returns: its id, whether a pending job with its dedupe key was answered instead, and its
 *   number of deliveries.
 *
 * Idempotent by job id: a stored id writes nothing and is answered as stored (the insert is tried
 * first; the lookup runs only when it did nothing). An id held by another queue of the file throws
 * `ID_CONFLICT`: job ids are unique per file.
 */
export function enqueue(s: SqliteStore, jobs: NewJob[]): EnqueueResult[] {
  const now = Date.now();
  let workers: WorkerInfo[] | null = null;
  const storedResult = (job: NewJob): EnqueueResult | null => {
    const stored = s.stmt.deliveryCount.get(job.id) as { queue: string; n: number } | undefined;
    if (stored && stored.queue !== job.queue) throw idConflict(job, stored.queue);
    return stored ? { id: job.id, deduped: false, deliveries: stored.n } : null;
  };
  return jobs.map((job) => {
    if (job.dedupeKey) {
      const stored = storedResult(job);
      if (stored) return stored;
      const existing = s.stmt.findPendingByDedupe.get(job.queue, job.dedupeKey) as { id: string } | undefined;
      if (existing) return { id: existing.id, deduped: true, deliveries: 0 };
    }
    if (job.type === 'broadcast') workers ??= liveWorkers(s, job.queue, now);
    const targets = planDeliveries(job.routes, job.type, workers ?? []);
    // A job id seen before is the rare case: insert first and look only when the insert did nothing.
    const inserted = s.stmt.insertJob.run({
      id: job.id,
      queue: job.queue,
      name: job.name,
      args: JSON.stringify(job.args),
      routes: JSON.stringify(job.routes),
      type: job.type,
      priority: job.priority,
      created_at: job.createdAt,
      options: JSON.stringify(job.options),
      dedupe_key: job.dedupeKey ?? null,
      empty_state: targets.length === 0 ? 'cancelled' : null,
    });
    if (inserted.changes === 0) return storedResult(job)!;
    targets.forEach((target, index) => {
      const d = newDelivery(job, target, index);
      s.stmt.insertDelivery.run({
        id: d.id,
        job_id: d.jobId,
        queue: job.queue,
        route: d.route,
        target_worker: d.targetWorker,
        state: d.state,
        priority: d.priority,
        run_at: d.runAt,
        attempts: d.attempts,
        max_attempts: d.maxAttempts,
        recoveries: d.recoveries,
        cancel_requested: d.cancelRequested ? 1 : 0,
      });
      recordEvent(s, job.queue, 'enqueued', job.id, d.id, d.route, d.targetWorker, now);
    });
    if (targets.length === 0) {
      jobEndedEmpty(s, job.id, now);
      recordEvent(s, job.queue, 'cancelled', job.id, null, null, null, now);
    }
    return { id: job.id, deduped: false, deliveries: targets.length };
  });
}

function idConflict(job: NewJob, holder: string): SkqError {
  return new SkqError('ID_CONFLICT', `job id "${job.id}" is taken by queue "${holder}": job ids are unique across the queues of one SQLite file`, {
    context: { jobId: job.id, queue: job.queue, field: 'jobId' },
  });
}
