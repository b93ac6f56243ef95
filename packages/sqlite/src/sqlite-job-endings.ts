import type Database from 'better-sqlite3';
import { RetentionSchedule, THROUGHPUT_WINDOW_MS, minuteOf, type EndedKind, type RetentionRule, type ThroughputBucket } from '@skq/core';
import { deliveryOfJob } from './schema.js';

type Db = InstanceType<typeof Database>;

/** Jobs deleted per trim, so one trim never holds the write lock for long. */
const TRIM_BATCH = 1_000;

/**
 * What happens when a delivery ends: the throughput count of its minute, and, once its job has no
 * open delivery left, the job's end and the retention rule stored with it. Every method runs
 * inside the backend's write transaction.
 */
export class SqliteJobEndings {
  private readonly stmt: ReturnType<typeof prepare>;
  private readonly retention = new RetentionSchedule();
  private throughputWrites = 0;

  constructor(db: Db) {
    this.stmt = prepare(db);
  }

  /** A delivery of `jobId` on `route` ended as `outcome`. */
  ended(queue: string, jobId: string, route: string, outcome: 'succeeded' | 'failed' | 'cancelled', now: number): void {
    if (outcome !== 'cancelled') this.count(queue, route, outcome, now);
    const job = this.stmt.endingOf.get(jobId) as { open: number; bad: number; options: string } | undefined;
    if (!job || job.open > 0) return;
    const kind: EndedKind = job.bad > 0 ? 'failed' : 'completed';
    this.stmt.markEnded.run(now, kind, jobId);
    const step = this.retention.afterEnd(queue, kind, job.options);
    if (step.action === 'remove') this.remove(jobId);
    else if (step.action === 'trim') this.trim(queue, kind, step.rule, now);
  }

  /** Marks a job ended at enqueue (a broadcast with no listener). */
  endedEmpty(jobId: string, now: number): void {
    this.stmt.markEnded.run(now, 'failed', jobId);
  }

  /** A retried job is open again. */
  reopened(jobId: string): void {
    this.stmt.markEnded.run(null, null, jobId);
  }

  /** Deletes a job, its deliveries and its logs. */
  remove(jobId: string): void {
    this.stmt.deleteDeliveries.run({ job: jobId });
    this.stmt.deleteLogs.run(jobId);
    this.stmt.deleteJob.run(jobId);
  }

  throughput(queue: string, since: number): ThroughputBucket[] {
    return this.stmt.throughputSince.all(queue, since) as ThroughputBucket[];
  }

  private trim(queue: string, kind: EndedKind, rule: RetentionRule, now: number): void {
    const victims: { id: string }[] = [];
    if (rule.ageMs !== null) victims.push(...(this.stmt.endedBefore.all(queue, kind, now - rule.ageMs, TRIM_BATCH) as { id: string }[]));
    if (rule.count !== null && victims.length === 0) victims.push(...(this.stmt.endedBeyond.all(queue, kind, TRIM_BATCH, rule.count) as { id: string }[]));
    for (const { id } of victims) this.remove(id);
  }

  private count(queue: string, route: string, outcome: 'succeeded' | 'failed', now: number): void {
    this.stmt.countEnding.run(queue, route, minuteOf(now), outcome === 'succeeded' ? 1 : 0, outcome === 'failed' ? 1 : 0);
    if (++this.throughputWrites % 1_000 === 0) this.stmt.trimThroughput.run(now - THROUGHPUT_WINDOW_MS);
  }
}

function prepare(db: Db) {
  const p = (sql: string) => db.prepare(sql);
  return {
    endingOf: p(`SELECT j.options,
        (SELECT COUNT(*) FROM skq_deliveries d WHERE ${deliveryOfJob('j.id', 'd')} AND d.state IN ('queued', 'running')) AS open,
        (SELECT COUNT(*) FROM skq_deliveries d WHERE ${deliveryOfJob('j.id', 'd')} AND d.state IN ('failed', 'cancelled')) AS bad
      FROM skq_jobs j WHERE j.id = ?`),
    markEnded: p('UPDATE skq_jobs SET ended_at = ?, ended_kind = ? WHERE id = ?'),
    endedBefore: p('SELECT id FROM skq_jobs WHERE queue = ? AND ended_kind = ? AND ended_at < ? LIMIT ?'),
    endedBeyond: p('SELECT id FROM skq_jobs WHERE queue = ? AND ended_kind = ? ORDER BY ended_at DESC LIMIT ? OFFSET ?'),
    deleteDeliveries: p(`DELETE FROM skq_deliveries WHERE ${deliveryOfJob('@job')}`),
    deleteLogs: p('DELETE FROM skq_logs WHERE job_id = ?'),
    deleteJob: p('DELETE FROM skq_jobs WHERE id = ?'),
    countEnding: p(`INSERT INTO skq_throughput (queue, route, minute, completed, failed) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (queue, minute, route) DO UPDATE SET completed = completed + excluded.completed, failed = failed + excluded.failed`),
    trimThroughput: p('DELETE FROM skq_throughput WHERE minute < ?'),
    throughputSince: p('SELECT minute, route, completed, failed FROM skq_throughput WHERE queue = ? AND minute >= ? ORDER BY minute, route'),
  };
}
