import { SkqError, type WorkerInfo } from '@skq/core';
import { planDeliveries, type EnqueueResult, type NewJob } from '@skq/core/backend';
import { storedOptions } from '../rows.js';
import { ROW_EVENT_CODE, STATE_CODE } from '../schema.js';
import { rowChanged } from './events.js';
import { countChange, nextSeq, type SqliteStore } from './store.js';
import { liveWorkers } from './workers-and-commands.js';

/**
 * Enqueue, in one write transaction (a schedule's firing also enqueues through here). For each job,
 * in order:
 * - Reads: with a dedupe key, the job id's stored queue and delivery count, then the queue's job
 *   with that key and a queued or running delivery; for the first broadcast, the queue's live workers.
 * - Writes: one row per target (each route, or each route and live worker of a broadcast), queued,
 *   stamped `enqueued`, counted. A job with no target is one row ended at once (shown `cancelled`).
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
    const stored = s.stmt.storedJob.get(job.id) as { queue: string | null; n: number };
    if (stored.queue === null) return null;
    if (stored.queue !== job.queue) throw idConflict(job, stored.queue);
    return { id: job.id, deduped: false, deliveries: stored.n };
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
    const header = {
      id: job.id,
      queue: job.queue,
      name: job.name,
      args: JSON.stringify(job.args),
      // Stored only when the rows' routes do not say it: several routes, or no row with a route.
      routes: job.routes.length === 1 && targets.length > 0 ? null : JSON.stringify(job.routes),
      broadcast: job.type === 'broadcast' ? 1 : null,
      fanout: targets.length > 1 ? targets.length : null,
      priority: job.priority,
      created_at: job.createdAt,
      options: storedOptions(job.options),
      dedupe_key: job.dedupeKey ?? null,
      run_at: job.runAt,
      max_attempts: job.options.attempts,
      ev_at: null,
    };
    if (targets.length === 0) {
      const seq = nextSeq(s);
      const { changes } = s.stmt.insertRow.run({ ...header, dix: -1, route: null, target_worker: null, state: STATE_CODE.cancelled, ended_at: now, ended_bad: 1, seq, ev: ROW_EVENT_CODE.cancelled });
      if (changes === 0) return storedResult(job)!;
      rowChanged(s, seq, job.queue, 'cancelled', job.id, null, null, null, now);
      return { id: job.id, deduped: false, deliveries: 0 };
    }
    for (const [dix, target] of targets.entries()) {
      const seq = nextSeq(s);
      const { changes } = s.stmt.insertRow.run({
        ...header,
        dix,
        route: target.route,
        target_worker: target.targetWorker,
        state: STATE_CODE.queued,
        ended_at: null,
        ended_bad: null,
        seq,
        ev: ROW_EVENT_CODE.enqueued,
      });
      // A job id seen before is the rare case: insert first and look only when the insert did nothing.
      if (changes === 0) return storedResult(job)!;
      countChange(s, job.queue, target.route, STATE_CODE.queued, 1);
      rowChanged(s, seq, job.queue, 'enqueued', job.id, `${job.id}.${dix}`, target.route, target.targetWorker, now);
    }
    return { id: job.id, deduped: false, deliveries: targets.length };
  });
}

function idConflict(job: NewJob, holder: string): SkqError {
  return new SkqError('ID_CONFLICT', `job id "${job.id}" is taken by queue "${holder}": job ids are unique across the queues of one SQLite file`, {
    context: { jobId: job.id, queue: job.queue, field: 'jobId' },
  });
}
