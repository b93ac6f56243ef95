import type { ScheduleDefinition, ScheduleFiring, ScheduleRecord } from '../contract.js';

/**
 * Schedules: definitions, their runtime state, and firing each tick exactly once.
 * Many processes may define and tick the same schedule; the version makes each tick fire once.
 *
 * @example
 * ```ts
 * const schedules = await backend.listSchedules('demo');
 * ```
 */
export interface ScheduleStorage {
  /**
   * Saves a schedule's definition. A schedule whose rule and job are unchanged keeps its runtime
   * state (so every process that defines it at start-up agrees on one schedule); a changed one
   * takes the new definition, its first tick and a new version.
   */
  saveSchedule(queue: string, definition: ScheduleDefinition): Promise<'created' | 'updated' | 'unchanged'>;

  /** The queue's schedules. */
  listSchedules(queue: string): Promise<ScheduleRecord[]>;

  /** Pauses or resumes a schedule. Returns false if there is none with that id. */
  setSchedulePaused(queue: string, id: string, paused: boolean): Promise<boolean>;

  /** Removes a schedule. Returns false if there is none with that id. */
  removeSchedule(queue: string, id: string): Promise<boolean>;

  /**
   * Fires one tick, atomically: only if the schedule is still at `version` and not paused, enqueues
   * `firing.job` and moves the schedule on (version + 1). Many processes may try the same tick;
   * exactly one succeeds. Returns whether this call fired it.
   */
  fireSchedule(queue: string, id: string, version: number, firing: ScheduleFiring): Promise<boolean>;

  /** Sets the next tick of a schedule that waited for its job, if it is still at `version`. */
  advanceSchedule(queue: string, id: string, version: number, next: { nextRunAt: number; state: Record<string, number> | null }): Promise<boolean>;
}
