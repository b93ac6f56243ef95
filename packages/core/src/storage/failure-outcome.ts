import type { FailRequest } from './contract.js';

/**
 * How a failed attempt ends: see {@link failureOutcome}.
 *
 * @example
 * ```ts
 * const outcome: FailureOutcome = failureOutcome(request, { cancelRequested: row.cancelRequested });
 * const event: JobEventType = outcome; // each outcome is also the type of the event to publish
 * ```
 */
export type FailureOutcome = 'cancelled' | 'retrying' | 'failed';

/**
 * How a failed attempt ends by what its worker asked alone: `cancelled` when the attempt ended by
 * cancellation, else `retrying` when it gave a retry time, else `failed`. A store whose decision
 * runs inside a script (Redis's Lua) passes this as an argument and applies the rest of
 * {@link failureOutcome} there: a cancel requested on the stored delivery wins.
 *
 * @example
 * ```ts
 * requestedFailureOutcome({ retryAt: Date.now() + 1_000 }); // 'retrying'
 * ```
 */
export function requestedFailureOutcome(request: Pick<FailRequest, 'cancelled' | 'retryAt'>): FailureOutcome {
  if (request.cancelled) return 'cancelled';
  return request.retryAt !== undefined && request.retryAt !== null ? 'retrying' : 'failed';
}

/**
 * How a failed attempt ends: `cancelled` when it ended by cancellation or a cancel was requested on
 * the delivery, else `retrying` (queued again at `retryAt`) when the worker gave a retry time, else
 * `failed`. Every backend's `fail` ends the delivery by this rule.
 *
 * @example
 * ```ts
 * const outcome = failureOutcome(request, { cancelRequested: row.cancel_requested === 1 });
 * if (outcome === 'retrying') requeue(row, request.retryAt!);
 * ```
 */
export function failureOutcome(request: Pick<FailRequest, 'cancelled' | 'retryAt'>, stored: { cancelRequested: boolean }): FailureOutcome {
  return stored.cancelRequested ? 'cancelled' : requestedFailureOutcome(request);
}
