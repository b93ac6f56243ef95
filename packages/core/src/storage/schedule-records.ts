import type { JobRunOptions, NewJob, QueueType } from './job-records.js';

// Schedules as the storage contract stores them.

/**
 * How a schedule computes its ticks; stored as JSON and interpreted by `@skq/core`.
 *
 * @example
 * ```ts
 * const nightly: ScheduleRule = { kind: 'cron', expression: '0 3 * * *', timezone: 'Europe/Paris' };
 * const poll: ScheduleRule = { kind: 'after', delayMs: 30_000 }; // 30 s after the last run ended
 * ```
 */
export type ScheduleRule =
  | { kind: 'every'; everyMs: number }
  | { kind: 'cron'; expression: string; timezone: string | null }
  /** Recurring after each run: the next run is the last run's completion plus the delay. */
  | { kind: 'after'; delayMs: number }
  /** The next run is the last run's completion plus an interval an adaptive policy sets. */
  | { kind: 'adaptive'; policy: 'aimd' | 'rto' | 'slow-start'; options: Record<string, number> };

/**
 * The job a schedule fires at each tick.
 *
 * @example
 * ```ts
 * const job: ScheduledJob = { name: 'cleanup', type: 'direct', args: [], routes: ['ops'], priority: 0, options: DEFAULT_RUN_OPTIONS };
 * ```
 */
export interface ScheduledJob {
  name: string;
  type: QueueType;
  args: unknown[];
  routes: string[];
  priority: number;
  options: JobRunOptions;
}

/**
 * A schedule's definition, as saved by whoever defines it.
 *
 * @example
 * ```ts
 * const definition: ScheduleDefinition = { id: 'cleanup', rule: { kind: 'every', everyMs: 60_000 }, job, nextRunAt: Date.now() + 60_000, state: null };
 * await backend.saveSchedule('demo', definition); // 'created', then 'unchanged' when saved again
 * ```
 */
export interface ScheduleDefinition {
  id: string;
  rule: ScheduleRule;
  job: ScheduledJob;
  /** The first tick. */
  nextRunAt: number;
  /** An adaptive policy's starting state. */
  state: Record<string, number> | null;
}

/**
 * A stored schedule with its runtime state. `version` grows with every change: it is the compare-and-set token.
 *
 * @example
 * ```ts
 * const due = (await backend.listSchedules('demo')).filter((s: ScheduleRecord) => !s.paused && s.nextRunAt !== null && s.nextRunAt <= Date.now());
 * ```
 */
export interface ScheduleRecord extends Omit<ScheduleDefinition, 'nextRunAt'> {
  queue: string;
  /** Null while the schedule waits for its last job to end (`after` and `adaptive` rules). */
  nextRunAt: number | null;
  waitingJobId: string | null;
  paused: boolean;
  firedCount: number;
  lastFiredAt: number | null;
  lastJobId: string | null;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/**
 * What {@link StorageBackend.fireSchedule} stores besides the job it enqueues.
 *
 * @example
 * ```ts
 * const firing: ScheduleFiring = { job: newJob, firedAt: Date.now(), nextRunAt: s.nextRunAt! + 60_000, waitingJobId: null };
 * const fired = await backend.fireSchedule('demo', s.id, s.version, firing); // false when another process fired this tick first
 * ```
 */
export interface ScheduleFiring {
  job: NewJob;
  firedAt: number;
  /** The next tick, or null to wait for `waitingJobId` to end. */
  nextRunAt: number | null;
  waitingJobId: string | null;
}
