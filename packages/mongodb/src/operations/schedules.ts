// Schedules. Each write is a compare-and-set on the schedule's `version`, so two processes running
// the schedule runner never both fire or advance one tick. Firing a tick also records the tick's
// job in the schedule document (`firingJob`); the job is enqueued next. A process that dies in
// between leaves `firingJob` behind, and the next reader enqueues it: enqueue is idempotent per
// job id, so a tick is enqueued once even when two processes finish it.
import { type ScheduleRecord } from '@skq/core';
import { scheduleFingerprint, scheduleSaveOutcome, type NewJob, type ScheduleDefinition, type ScheduleFiring, type ScheduleSaveOutcome } from '@skq/core/backend';
import type { ScheduleDoc } from '../documents.js';
import { enqueueJobs } from './enqueue.js';
import type { MongoStore } from './store.js';

const key = (queue: string, id: string) => `${queue}\u0000${id}`;

/**
 * Saves a schedule. Reads: the stored schedule. Writes: a new one (an insert; losing a race to
 * another insert reads again), or a changed definition with its state and next run time reset (a
 * compare-and-set on the version, read again when it misses). Returns `unchanged` without writing
 * when the stored definition is the same (compared as JSON text), else `created` or `updated`.
 */
export async function saveSchedule(store: MongoStore, queue: string, def: ScheduleDefinition, now: number): Promise<ScheduleSaveOutcome> {
  const definition = scheduleFingerprint(def);
  for (;;) {
    const existing = await store.c.schedules.findOne({ _id: key(queue, def.id) });
    const outcome = scheduleSaveOutcome(existing?.definition, definition);
    if (outcome === 'unchanged') return outcome;
    if (!existing) {
      try {
        await store.c.schedules.insertOne({
          _id: key(queue, def.id),
          queue,
          id: def.id,
          definition,
          state: def.state,
          nextRunAt: def.nextRunAt,
          waitingJobId: null,
          paused: false,
          firedCount: 0,
          lastFiredAt: null,
          lastJobId: null,
          version: 1,
          createdAt: now,
          updatedAt: now,
        });
        return outcome;
      } catch (err) {
        if ((err as { code?: number }).code === 11000) continue;
        throw err;
      }
    }
    const changed = await store.c.schedules.updateOne(
      { _id: existing._id, version: existing.version },
      { $set: { definition, state: def.state, nextRunAt: def.nextRunAt, waitingJobId: null, updatedAt: now }, $inc: { version: 1 } },
    );
    if (changed.modifiedCount === 1) return outcome;
  }
}

/**
 * The queue's schedules. Reads: its schedule documents, by id. Writes: for each with a tick left
 * half fired, its job enqueued and the record of it cleared (see {@link finishFiring}). Returns them.
 */
export async function listSchedules(store: MongoStore, queue: string): Promise<ScheduleRecord[]> {
  const docs = await store.c.schedules.find({ queue }).sort({ id: 1 }).toArray();
  for (const doc of docs) if (doc.firingJob) await finishFiring(store, doc);
  return docs.map(toRecord);
}

/** Pauses or resumes a schedule. Writes: its `paused`, version + 1. Returns false when there is no such schedule. */
export async function setSchedulePaused(store: MongoStore, queue: string, id: string, paused: boolean, now: number): Promise<boolean> {
  const result = await store.c.schedules.updateOne({ _id: key(queue, id) }, { $set: { paused, updatedAt: now }, $inc: { version: 1 } });
  return result.matchedCount === 1;
}

/** Removes a schedule. Writes: deletes its document. Returns false when there was none. */
export async function removeSchedule(store: MongoStore, queue: string, id: string): Promise<boolean> {
  return (await store.c.schedules.deleteOne({ _id: key(queue, id) })).deletedCount === 1;
}

/**
 * Fires a tick. Writes: the schedule's next run time, waiting job, last firing and the tick's job
 * (`firingJob`), fired count + 1 and version + 1, a compare-and-set on `version` and not paused;
 * then enqueues the job and clears `firingJob` (see {@link finishFiring}). Returns false, writing
 * nothing, when another process fired or changed the schedule first.
 */
export async function fireSchedule(store: MongoStore, queue: string, id: string, version: number, firing: ScheduleFiring): Promise<boolean> {
  const firingJob = JSON.stringify(firing.job);
  const won = await store.c.schedules.findOneAndUpdate(
    { _id: key(queue, id), version, paused: false },
    {
      $set: {
        nextRunAt: firing.nextRunAt,
        waitingJobId: firing.waitingJobId,
        lastFiredAt: firing.firedAt,
        lastJobId: firing.job.id,
        updatedAt: firing.firedAt,
        firingJob,
      },
      $inc: { firedCount: 1, version: 1 },
    },
    { returnDocument: 'after' },
  );
  if (!won) return false;
  await finishFiring(store, won);
  return true;
}

/**
 * Sets the next tick of a schedule that waited for its job. Writes: its next run time and state,
 * no waiting job, version + 1, a compare-and-set on `version`. Returns false when another process
 * changed the schedule first.
 */
export async function advanceSchedule(
  store: MongoStore,
  queue: string,
  id: string,
  version: number,
  next: { nextRunAt: number; state: Record<string, number> | null },
  now: number,
): Promise<boolean> {
  const result = await store.c.schedules.updateOne(
    { _id: key(queue, id), version },
    { $set: { nextRunAt: next.nextRunAt, state: next.state, waitingJobId: null, updatedAt: now }, $inc: { version: 1 } },
  );
  return result.modifiedCount === 1;
}

/**
 * Enqueues a won tick's job (idempotent per job id), then clears the record of it, only if nothing
 * changed it since.
 */
async function finishFiring(store: MongoStore, doc: ScheduleDoc): Promise<void> {
  if (!doc.firingJob) return;
  await enqueueJobs(store, [JSON.parse(doc.firingJob) as NewJob]);
  await store.c.schedules.updateOne({ _id: doc._id, firingJob: doc.firingJob }, { $unset: { firingJob: '' } });
}

function toRecord({ _id, definition, firingJob, ...stored }: ScheduleDoc): ScheduleRecord {
  const { rule, job } = JSON.parse(definition) as Pick<ScheduleRecord, 'rule' | 'job'>;
  return { ...stored, rule, job };
}
