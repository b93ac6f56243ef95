import { type ScheduleRecord } from '@skq/core';
import { scheduleFingerprint, scheduleSaveOutcome, toScheduleRecord, type ScheduleRow, type ScheduleDefinition, type ScheduleFiring, type ScheduleSaveOutcome } from '@skq/core/backend';
import { enqueue } from './enqueue.js';
import type { SqliteStore } from './store.js';

// Schedules: one skq_schedules row each. Every change bumps the row's version, so a scheduler's
// firing or advance, a compare-and-set on the version it read, loses to any change made since.

/**
 * Save, in one write transaction. Reads: the stored schedule. Writes: a new row (`created`), or the
 * new definition, state and next run with the waiting job cleared and version + 1 (`updated`);
 * nothing when the definition's fingerprint is unchanged (`unchanged`). Returns which.
 */
export function saveSchedule(s: SqliteStore, queue: string, def: ScheduleDefinition): ScheduleSaveOutcome {
  const now = Date.now();
  const definition = scheduleFingerprint(def);
  const existing = s.scheduleStmt.get.get(queue, def.id) as ScheduleRow | undefined;
  const outcome = scheduleSaveOutcome(existing?.definition, definition);
  if (outcome === 'unchanged') return outcome;
  (outcome === 'created' ? s.scheduleStmt.insert : s.scheduleStmt.redefine).run({ queue, id: def.id, definition, state: json(def.state), next_run_at: def.nextRunAt, now });
  return outcome;
}

/** List, a plain read. Reads: the queue's schedules. Returns them by id. */
export function listSchedules(s: SqliteStore, queue: string): ScheduleRecord[] {
  return (s.scheduleStmt.list.all(queue) as ScheduleRow[]).map(toScheduleRecord);
}

/** Pause or resume, in one write transaction. Writes: the paused flag and version + 1. Returns whether the schedule exists. */
export function setSchedulePaused(s: SqliteStore, queue: string, id: string, paused: boolean): boolean {
  return s.scheduleStmt.pause.run(paused ? 1 : 0, Date.now(), queue, id).changes === 1;
}

/** Remove, in one write transaction. Writes: the row, deleted. Returns whether it existed. */
export function removeSchedule(s: SqliteStore, queue: string, id: string): boolean {
  return s.scheduleStmt.remove.run(queue, id).changes === 1;
}

/**
 * Fire, in one write transaction. Writes, only when the schedule is at `version` and not paused:
 * its next run, waiting job, fired count, last firing and version + 1; then the firing's job,
 * enqueued in the same transaction (see {@link enqueue}). Returns whether it fired, so of two
 * schedulers firing from the same version only one enqueues.
 */
export function fireSchedule(s: SqliteStore, queue: string, id: string, version: number, firing: ScheduleFiring): boolean {
  const changed = s.scheduleStmt.fire.run({
    queue,
    id,
    version,
    next_run_at: firing.nextRunAt,
    waiting_job_id: firing.waitingJobId,
    fired_at: firing.firedAt,
    job_id: firing.job.id,
  }).changes;
  if (changed !== 1) return false;
  enqueue(s, [firing.job]);
  return true;
}

/**
 * Advance without firing, in one write transaction. Writes, only when the schedule is at `version`:
 * its next run and state, the waiting job cleared, version + 1. Returns whether it advanced.
 */
export function advanceSchedule(s: SqliteStore, queue: string, id: string, version: number, next: { nextRunAt: number; state: Record<string, number> | null }): boolean {
  return s.scheduleStmt.advance.run({ queue, id, version, next_run_at: next.nextRunAt, state: json(next.state), now: Date.now() }).changes === 1;
}

function json(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}
