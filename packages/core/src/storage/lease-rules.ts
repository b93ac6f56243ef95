import { SkqError, type SerializedError } from '../errors.js';
import { JOB_STATES, MAX_LEASE_RECOVERIES, type Delivery, type JobState, type LeaseToken } from './contract.js';

/**
 * The lease token of a claimed delivery.
 *
 * @example
 * ```ts
 * const { deliveries: [d] } = await backend.claim({ queue, route: 'r', workerId: 'w1', limit: 1, leaseMs: 30_000 });
 * await backend.complete(queue, leaseOf(d!), { ok: true });
 * ```
 */
export function leaseOf(delivery: Pick<Delivery, 'id' | 'workerId' | 'attempts'>): LeaseToken {
  if (delivery.workerId === null) throw new SkqError('INVALID_STATE', `delivery ${delivery.id} is not leased`, { context: { deliveryId: delivery.id } });
  return { deliveryId: delivery.id, workerId: delivery.workerId, attempt: delivery.attempts };
}

/**
 * Whether a stored delivery is still leased under `lease`.
 *
 * @example
 * ```ts
 * if (!row || !holdsLease(row, lease)) throw leaseLost('demo', lease, row);
 * holdsLease({ state: 'running', workerId: 'w1', attempts: 3 }, { deliveryId: 'j1.0', workerId: 'w1', attempt: 2 }); // false: attempt 3 holds it
 * ```
 */
export function holdsLease(stored: { state: JobState; workerId: string | null; attempts: number }, lease: LeaseToken): boolean {
  return stored.state === 'running' && stored.workerId === lease.workerId && stored.attempts === lease.attempt;
}

/**
 * The error for a call made under a lease that is no longer held: `JOB_NOT_FOUND` when the
 * delivery is gone, else `LEASE_LOST` saying who holds it now.
 *
 * @example
 * ```ts
 * if (!row || !holdsLease(row, lease)) throw leaseLost(queue, lease, row);
 * ```
 */
export function leaseLost(queue: string, lease: LeaseToken, found: { state: string; workerId: string | null; attempts: number } | null | undefined): SkqError {
  const context = { queue, deliveryId: lease.deliveryId, jobId: jobIdOfDelivery(lease.deliveryId), workerId: lease.workerId, attempt: lease.attempt };
  if (!found) return new SkqError('JOB_NOT_FOUND', `delivery ${lease.deliveryId} not found`, { context });
  return new SkqError(
    'LEASE_LOST',
    `attempt ${lease.attempt} of ${lease.deliveryId} by worker ${lease.workerId} no longer holds its lease ` +
      `(now ${found.state}, attempt ${found.attempts}, holder ${found.workerId ?? 'none'})`,
    { context: { ...context, found: { state: found.state, attempts: found.attempts, workerId: found.workerId } } },
  );
}

/**
 * What happens to a running delivery whose lease expired.
 *
 * @example
 * ```ts
 * const outcome: ExpiredLeaseOutcome = expiredLeaseOutcome(row);
 * if (outcome === 'recovered') requeue(row);
 * else finish(row, outcome, expiredLeaseError(row, outcome));
 * ```
 */
export type ExpiredLeaseOutcome = 'cancelled' | 'recovered' | 'failed';

/**
 * The rule for a delivery whose worker stopped renewing its lease: cancelled if a cancel was
 * requested, queued again while it has recoveries left, else failed with `LEASE_LOST`.
 *
 * @example
 * ```ts
 * const outcome = expiredLeaseOutcome({ cancelRequested: false, recoveries: 0 }); // 'recovered'
 * ```
 */
export function expiredLeaseOutcome(delivery: { cancelRequested: boolean; recoveries: number }): ExpiredLeaseOutcome {
  if (delivery.cancelRequested) return 'cancelled';
  return delivery.recoveries < MAX_LEASE_RECOVERIES ? 'recovered' : 'failed';
}

/**
 * The error stored with a delivery that an expired lease ended (`cancelled` or `failed` from
 * {@link expiredLeaseOutcome}).
 *
 * @example
 * ```ts
 * const error = JSON.stringify(expiredLeaseError({ id: 'job-1.0', workerId: 'w1', recoveries: 3 }, 'failed'));
 * ```
 */
export function expiredLeaseError(delivery: { id: string; workerId: string | null; recoveries: number }, outcome: 'cancelled' | 'failed'): SerializedError {
  return expiredLeaseErrorOf(delivery.id, delivery.workerId ?? '?', String(delivery.recoveries + 1), outcome);
}

/**
 * {@link expiredLeaseError} with its parts given as text: a backend whose script ends the delivery
 * passes placeholders and fills them in there, so the text stays core's.
 *
 * @example
 * ```ts
 * expiredLeaseErrorOf('@@ID@@', '@@WORKER@@', '@@TIMES@@', 'failed').message;
 * ```
 */
export function expiredLeaseErrorOf(deliveryId: string, workerId: string, times: string, outcome: 'cancelled' | 'failed'): SerializedError {
  const why = outcome === 'cancelled' ? 'cancelled while its worker was gone' : `its lease expired ${times} times`;
  return { name: 'SkqError', code: 'LEASE_LOST', message: `worker ${workerId} stopped renewing the lease of ${deliveryId}: ${why}` };
}

/**
 * The error stored with a broadcast delivery whose worker went away before running it: its
 * registration expired or was removed. No other worker may run it, so `recoverExpired` fails it
 * rather than leave it queued for ever.
 *
 * @example
 * ```ts
 * const error = JSON.stringify(workerGoneError({ id: 'job-1.2', targetWorker: 'w3' }));
 * ```
 */
export function workerGoneError(delivery: { id: string; targetWorker: string | null }): SerializedError {
  return { name: 'SkqError', code: 'WORKER_GONE', message: `worker ${delivery.targetWorker ?? '?'} went away before running ${delivery.id}, which was addressed to it alone` };
}

/**
 * The error stored with a delivery that `cancel` ended before it ran.
 *
 * @example
 * ```ts
 * const error = JSON.stringify(cancelledError('job-1'));
 * ```
 */
export function cancelledError(jobId: string): SerializedError {
  return { name: 'SkqError', code: 'CANCELLED', message: `job ${jobId} was cancelled` };
}

/**
 * The error stored with a delivery whose job cannot be read back from the store (its stored arguments
 * or options are not valid JSON). Such a delivery fails when it is claimed, with this error, so that it
 * never blocks the deliveries behind it.
 *
 * @example
 * ```ts
 * const error = JSON.stringify(unreadableJobError('job-1', new SyntaxError('Unexpected token')));
 * ```
 */
export function unreadableJobError(jobId: string, cause: unknown): SerializedError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return { name: 'SkqError', code: 'ARGS_INVALID', message: `job ${jobId} cannot be read from the store: ${why}` };
}

/**
 * The attempts that count against a delivery's retry budget: every claim, less those a lease
 * recovery took back (a crashed worker is not the job's failure).
 *
 * @example
 * ```ts
 * const attemptsLeft = chargedAttempts(delivery) < delivery.maxAttempts;
 * ```
 */
export function chargedAttempts(delivery: Pick<Delivery, 'attempts' | 'recoveries'>): number {
  return Math.max(1, delivery.attempts - delivery.recoveries);
}

/**
 * A count of zero for every job state, for building {@link StateCounts}.
 *
 * @example
 * ```ts
 * counts[route] ??= zeroStateCounts();
 * ```
 */
export function zeroStateCounts(): Record<JobState, number> {
  return Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
}

/**
 * The job id inside a delivery id (`<jobId>.<n>`, see `deliveryId`).
 *
 * @example
 * ```ts
 * jobIdOfDelivery('order-42.0'); // 'order-42'
 * ```
 */
export function jobIdOfDelivery(deliveryId: string): string {
  const dot = deliveryId.lastIndexOf('.');
  return dot < 0 ? deliveryId : deliveryId.slice(0, dot);
}
