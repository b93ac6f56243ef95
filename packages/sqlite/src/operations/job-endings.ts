import { THROUGHPUT_WINDOW_MS, minuteOf, type EndedKind, type RetentionRule, type ThroughputBucket } from '@skq/core/backend';
import type { SqliteStore } from './store.js';

// What happens when a delivery ends: the throughput count of its minute, and, once its job has no
// open delivery left, the job's end and the retention rule stored with it. These run inside the
// write transaction of the operation that ended the delivery.

/** Jobs deleted per trim, so one trim never holds the write lock for long. */
const TRIM_BATCH = 1_000;

/**
 * A delivery of `jobId` on `route` ended as `outcome`.
 * - Reads: the job's options and how many of its deliveries are open (queued or running) and how
 *   many ended failed or cancelled.
 * - Writes: the minute's throughput count (not for a cancel; every thousandth count also deletes
 *   counts older than the throughput window). Once no delivery is open: the job's ended_at and
 *   ended_kind (`failed` if any delivery failed or was cancelled, else `completed`), then what its
 *   retention rule asks: the job deleted, or a batch of the queue's ended jobs of that kind past the
 *   rule's age, else past its count, deleted (see {@link removeJob}).
 */
export function deliveryEnded(s: SqliteStore, queue: string, jobId: string, route: string, outcome: 'succeeded' | 'failed' | 'cancelled', now: number): void {
  if (outcome !== 'cancelled') countEnding(s, queue, route, outcome, now);
  const job = s.endingStmt.endingOf.get(jobId) as { open: number; bad: number; options: string } | undefined;
  if (!job || job.open > 0) return;
  const kind: EndedKind = job.bad > 0 ? 'failed' : 'completed';
  s.endingStmt.markEnded.run(now, kind, jobId);
  const step = s.retention.afterEnd(queue, kind, job.options);
  if (step.action === 'remove') removeJob(s, jobId);
  else if (step.action === 'trim') trim(s, queue, kind, step.rule, now);
}

/** Marks a job ended at enqueue (a broadcast with no listener). Reads: nothing. Writes: the job's ended_at and ended_kind `failed`. */
export function jobEndedEmpty(s: SqliteStore, jobId: string, now: number): void {
  s.endingStmt.markEnded.run(now, 'failed', jobId);
}

/** A retried job is open again. Reads: nothing. Writes: the job's ended_at and ended_kind cleared. */
export function jobReopened(s: SqliteStore, jobId: string): void {
  s.endingStmt.markEnded.run(null, null, jobId);
}

/** Deletes a job. Reads: nothing. Writes: its deliveries, its log lines and its row, deleted. */
export function removeJob(s: SqliteStore, jobId: string): void {
  s.endingStmt.deleteDeliveries.run({ job: jobId });
  s.endingStmt.deleteLogs.run(jobId);
  s.endingStmt.deleteJob.run(jobId);
}

/** Throughput, a plain read. Reads: the queue's per-minute counts from minute `since` on. Returns them by minute, then route. */
export function throughput(s: SqliteStore, queue: string, since: number): ThroughputBucket[] {
  return s.endingStmt.throughputSince.all(queue, since) as ThroughputBucket[];
}

function trim(s: SqliteStore, queue: string, kind: EndedKind, rule: RetentionRule, now: number): void {
  const victims: { id: string }[] = [];
  if (rule.ageMs !== null) victims.push(...(s.endingStmt.endedBefore.all(queue, kind, now - rule.ageMs, TRIM_BATCH) as { id: string }[]));
  if (rule.count !== null && victims.length === 0) victims.push(...(s.endingStmt.endedBeyond.all(queue, kind, TRIM_BATCH, rule.count) as { id: string }[]));
  for (const { id } of victims) removeJob(s, id);
}

function countEnding(s: SqliteStore, queue: string, route: string, outcome: 'succeeded' | 'failed', now: number): void {
  s.endingStmt.countEnding.run(queue, route, minuteOf(now), outcome === 'succeeded' ? 1 : 0, outcome === 'failed' ? 1 : 0);
  if (++s.throughputWrites % 1_000 === 0) s.endingStmt.trimThroughput.run(now - THROUGHPUT_WINDOW_MS);
}
