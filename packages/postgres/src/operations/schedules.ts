import { type ScheduleRecord } from '@skq/core';
import { scheduleFingerprint, scheduleSaveOutcome, toScheduleRecord, type ScheduleRow, type ScheduleDefinition, type ScheduleFiring, type ScheduleSaveOutcome } from '@skq/core/backend';
import { run, type PgTx } from '../store.js';
import { enqueue } from './enqueue.js';

// Schedules: one schedules row each. Every change bumps the row's version, so a scheduler's firing or
// advance, a compare-and-set on the version it read, loses to any change made since.

/**
 * Save, in one transaction. Reads: the stored schedule, locked. Writes: a new row (`created`), or the
 * new definition, state and next run with the waiting job cleared and version + 1 (`updated`);
 * nothing when the definition's fingerprint is unchanged. Of two processes creating one schedule at
 * once, the second's insert does nothing and it saves again over the first's row. Returns which.
 */
export async function saveSchedule(t: PgTx, queue: string, def: ScheduleDefinition): Promise<ScheduleSaveOutcome> {
  const now = Date.now();
  const definition = scheduleFingerprint(def);
  for (;;) {
    const existing = (await run<ScheduleRow>(t, 'scheduleGet', [queue, def.id])).rows[0];
    const outcome = scheduleSaveOutcome(existing?.definition, definition);
    if (outcome === 'unchanged') return outcome;
    if (outcome === 'updated') {
      await run(t, 'scheduleRedefine', [queue, def.id, definition, json(def.state), def.nextRunAt, now]);
      return outcome;
    }
    if ((await run(t, 'scheduleInsert', [queue, def.id, definition, json(def.state), def.nextRunAt, now])).rowCount === 1) return outcome;
  }
}

/** List. Reads: the queue's schedules. Returns them by id. */
export async function listSchedules(t: PgTx, queue: string): Promise<ScheduleRecord[]> {
  return (await run<ScheduleRow>(t, 'scheduleList', [queue])).rows.map(toScheduleRecord);
}

/** Pause or resume. Writes: the paused flag and version + 1. Returns whether the schedule exists. */
export async function setSchedulePaused(t: PgTx, queue: string, id: string, paused: boolean): Promise<boolean> {
  return (await run(t, 'schedulePause', [paused, Date.now(), queue, id])).rowCount === 1;
}

/** Remove. Writes: the row, deleted. Returns whether it existed. */
export async function removeSchedule(t: PgTx, queue: string, id: string): Promise<boolean> {
  return (await run(t, 'scheduleRemove', [queue, id])).rowCount === 1;
}

/**
 * Fire, in one transaction. Writes, only when the schedule is at `version` and not paused (the UPDATE
 * waits for a concurrent change and then re-checks): its next run, waiting job, fired count, last
 * firing and version + 1; then the firing's job, enqueued in the same transaction (see
 * {@link enqueue}). Returns whether it fired, so of two schedulers firing one version only one enqueues.
 */
export async function fireSchedule(t: PgTx, queue: string, id: string, version: number, firing: ScheduleFiring): Promise<boolean> {
  const fired = await run(t, 'scheduleFire', [queue, id, version, firing.nextRunAt, firing.waitingJobId, firing.firedAt, firing.job.id]);
  if (fired.rowCount !== 1) return false;
  await enqueue(t, [firing.job]);
  return true;
}

/** Advance without firing, in one transaction. Writes, only when the schedule is at `version`: its next run and state, the waiting job cleared, version + 1. */
export async function advanceSchedule(t: PgTx, queue: string, id: string, version: number, next: { nextRunAt: number; state: Record<string, number> | null }): Promise<boolean> {
  return (await run(t, 'scheduleAdvance', [queue, id, version, next.nextRunAt, json(next.state), Date.now()])).rowCount === 1;
}

function json(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}
