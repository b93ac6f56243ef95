import type { Delivery, JobRecord, JobState } from './contract.js';

/**
 * Aggregates deliveries into one job state: running wins, then queued work, then
 * failed, cancelled and succeeded.
 *
 * @example
 * ```ts
 * aggregateState([{ state: 'succeeded' }, { state: 'failed' }], 'cancelled'); // 'failed'
 * aggregateState([], 'cancelled'); // 'cancelled', the fallback of a job without deliveries
 * ```
 */
export function aggregateState(deliveries: ReadonlyArray<Pick<Delivery, 'state'>>, fallback: JobState): JobState {
  if (deliveries.length === 0) return fallback;
  const states = new Set(deliveries.map((d) => d.state));
  for (const state of ['running', 'queued', 'scheduled', 'failed', 'cancelled'] as const) {
    if (states.has(state)) return state;
  }
  return 'succeeded';
}

/**
 * The part of a {@link JobRecord} its deliveries decide: the aggregate state (`emptyState` for a
 * job without deliveries), the attempts summed, the first start and, once every delivery ended,
 * the last finish, and the progress of the last delivery that reported one.
 *
 * @example
 * ```ts
 * const record: JobRecord = { ...header, ...summarizeDeliveries(deliveries, 'cancelled'), deliveries };
 * ```
 */
export function summarizeDeliveries(
  deliveries: readonly Delivery[],
  emptyState: JobState,
): Pick<JobRecord, 'state' | 'attempts' | 'startedAt' | 'finishedAt' | 'progress'> {
  const reported = deliveries.filter((d) => d.progress !== null && d.progress !== undefined);
  const started = deliveries.map((d) => d.startedAt).filter((v): v is number => v !== null);
  const finished = deliveries.map((d) => d.finishedAt);
  return {
    state: aggregateState(deliveries, emptyState),
    attempts: deliveries.reduce((sum, d) => sum + d.attempts, 0),
    startedAt: started.length ? Math.min(...started) : null,
    finishedAt: finished.length && finished.every((f) => f !== null) ? Math.max(...(finished as number[])) : null,
    progress: reported.length ? reported[reported.length - 1]!.progress : null,
  };
}
