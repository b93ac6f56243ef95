import {
  RetentionSchedule,
  THROUGHPUT_WINDOW_MS,
  WHOLE_QUEUE,
  minuteOf,
  workerGoneError,
  type CallRecord,
  type CallRecordQuery,
  type EndedKind,
  type JobEventType,
  type LogMeta,
  type RetentionRule,
  type ThroughputBucket,
} from '@skq/core';
import type { Collections } from './collections.js';
import type { DeliveryDoc, EventDoc } from './documents.js';

/** What the operations need from the backend. */
export interface OperationsHost {
  c: Collections;
  nextSeq(): number;
  event(queue: string, type: JobEventType, jobId: string | null, delivery: string | null, route: string | null, workerId: string | null, at: number, data?: unknown): EventDoc;
  record(events: EventDoc[]): void;
  warn(message: string, meta: LogMeta): void;
}

/** Jobs deleted per trim, so one trim stays short. */
const TRIM_BATCH = 1_000;

/**
 * The parts of the MongoDB backend that operate queues: ending jobs (throughput and retention),
 * retrying and removing jobs, pausing routes and storing call records. Each step is single-document
 * atomic, as everywhere in this backend; where a step spans documents, the order is chosen so that a
 * process dying in between leaves a state the next call repairs or reports.
 */
export class MongoOperations {
  private readonly retention = new RetentionSchedule();
  private tallies = new Map<string, { queue: string; route: string; minute: number; completed: number; failed: number }>();
  private tallyFlush: NodeJS.Immediate | null = null;
  private tallyWrites: Promise<void> = Promise.resolve();
  private throughputWrites = 0;

  constructor(private readonly host: OperationsHost) {}

  /**
   * A delivery ended as `outcome`: counts it, and once its job has no open delivery, applies the job's retention.
   * The throughput counts are written in one bulk write per tick, best effort like the events.
   */
  async ended(doc: DeliveryDoc, outcome: 'succeeded' | 'failed' | 'cancelled', now: number): Promise<void> {
    if (outcome !== 'cancelled') this.tally(doc.queue, doc.route, outcome, now);
    const { c } = this.host;
    let kind: EndedKind = outcome === 'succeeded' ? 'completed' : 'failed';
    if (!doc.solo) {
      const states = (await c.deliveries.find({ jobId: doc.jobId }, { projection: { state: 1 } }).toArray()).map((d) => d.state);
      if (states.some((s) => s === 'queued' || s === 'running')) return;
      if (states.some((s) => s === 'failed' || s === 'cancelled')) kind = 'failed';
      await c.jobs.updateOne({ _id: doc.jobId }, { $set: { endedAt: now, endedKind: kind } });
    }
    const step = this.retention.afterEnd(doc.queue, kind, doc.options);
    if (step.action === 'remove') await this.removeEnded(doc.jobId);
    else if (step.action === 'trim') await this.trim(doc.queue, kind, step.rule, now);
  }

  /** Runs the failed and cancelled deliveries of a job again; a compare-and-set per delivery makes a concurrent retry find none. */
  /**
   * Fails the queued broadcast deliveries addressed to a worker with no live registration (through the
   * 'addressed' index), 500 per call; their events go into `events`. Returns how many failed.
   */
  async failOrphaned(queue: string, now: number, events: EventDoc[]): Promise<number> {
    const { c } = this.host;
    const targets = (await c.deliveries.distinct('targetWorker', { queue, state: 'queued', targetWorker: { $gt: '' } })) as string[];
    if (targets.length === 0) return 0;
    const live = new Set((await c.workers.distinct('_id', { queue, expiresAt: { $gte: now } })) as string[]);
    const gone = targets.filter((t) => !live.has(t));
    if (gone.length === 0) return 0;
    let failed = 0;
    for (const row of await c.deliveries.find({ queue, state: 'queued', targetWorker: { $in: gone } }).limit(500).toArray()) {
      const error = JSON.stringify(workerGoneError({ id: row._id, targetWorker: row.targetWorker }));
      const ended = await c.deliveries.updateOne({ _id: row._id, state: 'queued' }, { $set: { state: 'failed', finishedAt: now, error } });
      if (ended.modifiedCount !== 1) continue; // claimed or ended meanwhile
      failed += 1;
      events.push(this.host.event(queue, 'failed', row.jobId, row._id, row.route, row.targetWorker, now));
      await this.ended(row, 'failed', now).catch((err: unknown) => this.host.warn(`mongodb: retention of job ${row.jobId} failed`, { queue, jobId: row.jobId, err }));
    }
    return failed;
  }

  async retry(queue: string, jobId: string, runAt: number, attempts: number): Promise<number> {
    const { c } = this.host;
    const rows = await c.deliveries.find({ jobId, queue, state: { $in: ['failed', 'cancelled'] } }).toArray();
    const events: EventDoc[] = [];
    for (const row of rows) {
      const changed = await c.deliveries.updateOne(
        { _id: row._id, state: row.state, attempts: row.attempts },
        {
          $set: {
            state: 'queued', runAt, maxAttempts: row.attempts - (row.recoveries ?? 0) + attempts,
            workerId: null, leaseUntil: null, finishedAt: null, result: null, error: null, cancelRequested: false,
          },
        },
      );
      if (changed.modifiedCount === 1) events.push(this.host.event(queue, 'retrying', jobId, row._id, row.route, null, Date.now()));
    }
    if (events.length) await c.jobs.updateOne({ _id: jobId }, { $unset: { endedAt: '', endedKind: '' } });
    this.host.record(events);
    return events.length;
  }

  /**
   * Deletes a job unless a delivery of it runs. A solo job is one conditional delete. A job with
   * several deliveries first has its queued ones cancelled (so none can be claimed meanwhile), then,
   * if none runs, goes entirely.
   */
  async remove(queue: string, jobId: string): Promise<boolean> {
    const { c } = this.host;
    const deliveries = await c.deliveries.find({ jobId, queue }, { projection: { _id: 1, state: 1, solo: 1 } }).toArray();
    const header = await c.jobs.findOne({ _id: jobId, queue }, { projection: { _id: 1 } });
    if (!header && deliveries.length === 0) return false;
    if (deliveries.some((d) => d.state === 'running')) return false;
    if (!header) {
      const gone = await c.deliveries.deleteOne({ _id: deliveries[0]!._id, state: { $ne: 'running' } });
      if (gone.deletedCount !== 1) return false;
      await c.logs.deleteMany({ jobId });
    } else {
      await c.deliveries.updateMany({ jobId, state: 'queued' }, { $set: { state: 'cancelled', finishedAt: Date.now() } });
      if ((await c.deliveries.countDocuments({ jobId, state: 'running' })) > 0) return false;
      await this.removeEnded(jobId);
    }
    this.host.record([this.host.event(queue, 'removed', jobId, null, null, null, Date.now())]);
    return true;
  }

  async setPaused(queue: string, route: string, paused: boolean): Promise<boolean> {
    const { c } = this.host;
    const _id = pauseKey(queue, route);
    let changed: boolean;
    if (paused) {
      const result = await c.paused.updateOne({ _id }, { $setOnInsert: { queue, route, since: Date.now() } }, { upsert: true });
      changed = result.upsertedCount === 1;
    } else {
      changed = (await c.paused.deleteOne({ _id })).deletedCount === 1;
    }
    if (changed) this.host.record([this.host.event(queue, paused ? 'paused' : 'resumed', null, null, route, null, Date.now())]);
    return changed;
  }

  /** Whether a claim on `route` must wait: one indexed read by id. */
  async isPaused(queue: string, route: string): Promise<boolean> {
    return (await this.host.c.paused.findOne({ _id: { $in: [pauseKey(queue, route), pauseKey(queue, WHOLE_QUEUE)] } }, { projection: { _id: 1 } })) !== null;
  }

  async pausedRoutes(queue: string): Promise<string[]> {
    return (await this.host.c.paused.find({ queue }).toArray()).map((p) => p.route).sort();
  }

  async throughput(queue: string, since: number): Promise<ThroughputBucket[]> {
    await this.flushTallies();
    const docs = await this.host.c.throughput.find({ queue, minute: { $gte: since } }).sort({ minute: 1, route: 1 }).toArray();
    return docs.map(({ minute, route, completed, failed }) => ({ minute, route, completed, failed }));
  }

  async appendCallRecord(queue: string, record: CallRecord): Promise<void> {
    await this.host.c.userdef.insertOne({ _id: record.id, queue, seq: this.host.nextSeq(), record });
  }

  async listCallRecords(queue: string, query: CallRecordQuery): Promise<CallRecord[]> {
    const filter = query.name ? { queue, 'record.name': query.name } : { queue };
    return (await this.host.c.userdef.find(filter).sort({ seq: -1 }).limit(query.limit).toArray()).map((d) => d.record);
  }

  /**
   * Writes the throughput counts gathered so far, after any write already under way: a reader that
   * flushes first sees every count, and two upserts of one minute never race.
   */
  flushTallies(): Promise<void> {
    if (this.tallyFlush) clearImmediate(this.tallyFlush);
    this.tallyFlush = null;
    const write = this.tallyWrites.then(() => this.writeTallies());
    this.tallyWrites = write.catch(() => undefined);
    return write;
  }

  private async writeTallies(): Promise<void> {
    const tallies = [...this.tallies.values()];
    this.tallies = new Map();
    if (tallies.length === 0) return;
    await this.host.c.throughput.bulkWrite(
      tallies.map((t) => ({
        updateOne: {
          filter: { _id: `${t.queue}\u0000${t.minute}\u0000${t.route}` },
          update: { $setOnInsert: { queue: t.queue, route: t.route, minute: t.minute }, $inc: { completed: t.completed, failed: t.failed } },
          upsert: true,
        },
      })),
      { ordered: false },
    );
    this.throughputWrites += tallies.length;
    if (this.throughputWrites >= 1_000) {
      this.throughputWrites = 0;
      await this.host.c.throughput.deleteMany({ minute: { $lt: Date.now() - THROUGHPUT_WINDOW_MS } });
    }
  }

  private tally(queue: string, route: string, outcome: 'succeeded' | 'failed', now: number): void {
    const minute = minuteOf(now);
    const key = `${queue}\u0000${minute}\u0000${route}`;
    let tally = this.tallies.get(key);
    if (!tally) this.tallies.set(key, (tally = { queue, route, minute, completed: 0, failed: 0 }));
    if (outcome === 'succeeded') tally.completed += 1;
    else tally.failed += 1;
    this.tallyFlush ??= setImmediate(() => {
      this.flushTallies().catch((err: unknown) => this.host.warn('mongodb: throughput counts were not recorded', { err }));
    });
  }

  /**
   * Trims the queue's ended jobs of one kind. Solo jobs (one delivery) and jobs with a header are
   * kept apart, so each group keeps up to `count`.
   */
  private async trim(queue: string, kind: EndedKind, rule: RetentionRule, now: number): Promise<void> {
    const { c } = this.host;
    const states: DeliveryDoc['state'][] = kind === 'completed' ? ['succeeded'] : ['failed', 'cancelled'];
    const solo = { queue, solo: true as const, state: { $in: states } };
    const headers = { queue, endedKind: kind };
    const victims: string[] = [];
    if (rule.ageMs !== null) {
      const before = now - rule.ageMs;
      victims.push(...(await c.deliveries.find({ ...solo, finishedAt: { $lt: before } }, { projection: { jobId: 1 } }).limit(TRIM_BATCH).toArray()).map((d) => d.jobId));
      victims.push(...(await c.jobs.find({ ...headers, endedAt: { $lt: before } }, { projection: { _id: 1 } }).limit(TRIM_BATCH).toArray()).map((j) => j._id));
    }
    if (rule.count !== null && victims.length === 0) {
      victims.push(...(await c.deliveries.find(solo, { projection: { jobId: 1 } }).sort({ finishedAt: -1 }).skip(rule.count).limit(TRIM_BATCH).toArray()).map((d) => d.jobId));
      victims.push(...(await c.jobs.find(headers, { projection: { _id: 1 } }).sort({ endedAt: -1 }).skip(rule.count).limit(TRIM_BATCH).toArray()).map((j) => j._id));
    }
    if (victims.length) await this.removeEnded(...victims);
  }

  /** Deletes ended jobs: deliveries (never a running one), headers and logs. */
  private async removeEnded(...jobIds: string[]): Promise<void> {
    const { c } = this.host;
    await c.deliveries.deleteMany({ jobId: { $in: jobIds }, state: { $ne: 'running' } });
    await c.jobs.deleteMany({ _id: { $in: jobIds } });
    await c.logs.deleteMany({ jobId: { $in: jobIds } });
  }
}

function pauseKey(queue: string, route: string): string {
  return `${queue}\u0000${route}`;
}
