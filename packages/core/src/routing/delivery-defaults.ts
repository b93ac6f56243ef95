import { deliveryId, type DeliveryTarget } from './delivery-plan.js';
import type { Delivery, JobRunOptions, NewJob } from '../storage/contract.js';

/**
 * A delivery as it is first stored, before any claim: see {@link newDelivery}.
 *
 * @example
 * ```ts
 * const d: NewDelivery = newDelivery(job, target, index);
 * await deliveries.insertOne({ _id: d.id, ...d, queue: job.queue }); // a store that keeps one record per delivery
 * ```
 */
export interface NewDelivery extends Omit<Delivery, 'queue' | 'state' | 'result' | 'error' | 'progress'> {
  state: 'queued';
  result: null;
  error: null;
  progress: null;
}

/**
 * The delivery a backend stores for the `index`th target of a new job: queued at the job's run
 * time and priority, with the job's attempt budget, no claim, no lease, no recovery, no result.
 * Every backend that stores deliveries as records builds them from this; a backend adds its own
 * fields (the queue, an enqueue sequence, an index key) around it.
 *
 * @example
 * ```ts
 * const targets = planDeliveries(job.routes, job.type, workers);
 * const deliveries = targets.map((target, i) => ({ ...newDelivery(job, target, i), queue: job.queue }));
 * ```
 */
export function newDelivery(job: Pick<NewJob, 'id' | 'priority' | 'runAt'> & { options: Pick<JobRunOptions, 'attempts'> }, target: DeliveryTarget, index: number): NewDelivery {
  return {
    id: deliveryId(job.id, index),
    jobId: job.id,
    route: target.route,
    targetWorker: target.targetWorker,
    state: 'queued',
    priority: job.priority,
    runAt: job.runAt,
    attempts: 0,
    maxAttempts: job.options.attempts,
    recoveries: 0,
    workerId: null,
    leaseUntil: null,
    startedAt: null,
    finishedAt: null,
    result: null,
    error: null,
    cancelRequested: false,
    progress: null,
  };
}
