import type { Collection } from 'mongodb';
import { scheduleFingerprint, scheduleSaveOutcome, type NewJob, type ScheduleDefinition, type ScheduleFiring, type ScheduleRecord, type ScheduleSaveOutcome } from '@skq/core';

/** A stored schedule; `_id` is queue + NUL + id. */
export interface ScheduleDoc extends Omit<ScheduleRecord, 'rule' | 'job'> {
  _id: string;
  /** The rule and job as JSON: an unchanged definition compares equal as text. */
  definition: string;
  /** The job of a tick that won its compare-and-set but may not be enqueued yet (JSON). */
  firingJob?: string;
}

const key = (queue: string, id: string) => `${queue}\u0000${id}`;

/**
 * The schedule half of the MongoDB backend. Firing a tick is a compare-and-set on the version
 * that also records the tick's job in the schedule document; the job is enqueued next. A process
 * that dies in between leaves `firingJob` behind, and the next reader enqueues it: enqueue is
 * idempotent per job id, so a tick is enqueued once even when two processes finish it.
 */
export class MongoSchedules {
  /**
   * @param collection the schedules collection of the backend's current client, read at each call:
   *   a client replaced after repeated selection failures is closed, and so is its collection object.
   */
  constructor(
    private readonly collection: () => Collection<ScheduleDoc>,
    private readonly enqueue: (job: NewJob) => Promise<unknown>,
  ) {}

  private get schedules(): Collection<ScheduleDoc> {
    return this.collection();
  }

  async save(queue: string, def: ScheduleDefinition, now: number): Promise<ScheduleSaveOutcome> {
    const definition = scheduleFingerprint(def);
    for (;;) {
      const existing = await this.schedules.findOne({ _id: key(queue, def.id) });
      const outcome = scheduleSaveOutcome(existing?.definition, definition);
      if (outcome === 'unchanged') return outcome;
      if (!existing) {
        try {
          await this.schedules.insertOne({
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
      const changed = await this.schedules.updateOne(
        { _id: existing._id, version: existing.version },
        { $set: { definition, state: def.state, nextRunAt: def.nextRunAt, waitingJobId: null, updatedAt: now }, $inc: { version: 1 } },
      );
      if (changed.modifiedCount === 1) return outcome;
    }
  }

  async list(queue: string): Promise<ScheduleRecord[]> {
    const docs = await this.schedules.find({ queue }).sort({ id: 1 }).toArray();
    for (const doc of docs) if (doc.firingJob) await this.finishFiring(doc);
    return docs.map(toRecord);
  }

  async setPaused(queue: string, id: string, paused: boolean, now: number): Promise<boolean> {
    const result = await this.schedules.updateOne({ _id: key(queue, id) }, { $set: { paused, updatedAt: now }, $inc: { version: 1 } });
    return result.matchedCount === 1;
  }

  async remove(queue: string, id: string): Promise<boolean> {
    return (await this.schedules.deleteOne({ _id: key(queue, id) })).deletedCount === 1;
  }

  async fire(queue: string, id: string, version: number, firing: ScheduleFiring): Promise<boolean> {
    const firingJob = JSON.stringify(firing.job);
    const won = await this.schedules.findOneAndUpdate(
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
    await this.finishFiring(won);
    return true;
  }

  async advance(queue: string, id: string, version: number, next: { nextRunAt: number; state: Record<string, number> | null }, now: number): Promise<boolean> {
    const result = await this.schedules.updateOne(
      { _id: key(queue, id), version },
      { $set: { nextRunAt: next.nextRunAt, state: next.state, waitingJobId: null, updatedAt: now }, $inc: { version: 1 } },
    );
    return result.modifiedCount === 1;
  }

  /** Enqueues a won tick's job, then clears the record of it (only if nothing changed it since). */
  private async finishFiring(doc: ScheduleDoc): Promise<void> {
    if (!doc.firingJob) return;
    await this.enqueue(JSON.parse(doc.firingJob) as NewJob);
    await this.schedules.updateOne({ _id: doc._id, firingJob: doc.firingJob }, { $unset: { firingJob: '' } });
  }
}

function toRecord({ _id, definition, firingJob, ...stored }: ScheduleDoc): ScheduleRecord {
  const { rule, job } = JSON.parse(definition) as Pick<ScheduleRecord, 'rule' | 'job'>;
  return { ...stored, rule, job };
}
