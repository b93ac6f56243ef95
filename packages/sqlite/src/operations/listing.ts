import { type JobRecord, type JobState, type StateCounts } from '@skq/core';
import { zeroStateCounts, type ListJobsQuery } from '@skq/core/backend';
import { toJobRecord, type JobRow } from '../rows.js';
import { STATE_NAME } from '../schema.js';
import type { SqliteStore } from './store.js';

// What the dashboard and the admin calls read: jobs, counts and queue names. Plain reads, outside
// any write transaction.

/** One job. Reads: the job's rows. Returns its record, or null when it is not there or in another queue. */
export function getJob(s: SqliteStore, queue: string, jobId: string): JobRecord | null {
  const rows = s.stmt.rowsOf.all(jobId) as JobRow[];
  return rows.length && rows[0]!.queue === queue ? toJobRecord(rows, Date.now()) : null;
}

/**
 * A page of jobs, newest first. Reads: up to `limit` jobs' first rows (the listing index), after
 * the `after` cursor when given, and the other rows of those with several deliveries. Returns their records.
 */
export function listJobs(s: SqliteStore, query: ListJobsQuery): JobRecord[] {
  const now = Date.now();
  const rows = (
    query.after
      ? s.stmt.headsAfter.all({ queue: query.queue, created_at: query.after.createdAt, id: query.after.id, limit: query.limit })
      : s.stmt.headsNewest.all(query.queue, query.limit)
  ) as JobRow[];
  return rows.map((row) => toJobRecord(row.fanout === null ? [row] : (s.stmt.rowsOf.all(row.id) as JobRow[]), now));
}

/**
 * Delivery counts by route and state. Reads: the counts kept by the writes (skq_counts), and the
 * number of queued deliveries whose run_at is still ahead. Returns the counts, those deliveries
 * moved from queued to scheduled.
 */
export function countByState(s: SqliteStore, queue: string): StateCounts {
  const counts: StateCounts = {};
  for (const row of s.stmt.counts.all(queue) as { route: string; state: number; n: number }[]) {
    counts[row.route] ??= zeroStateCounts();
    counts[row.route]![STATE_NAME[row.state] as JobState] += row.n;
  }
  // A queued delivery whose time has not come is shown as scheduled.
  for (const row of s.stmt.scheduledCounts.all(queue, Date.now()) as { route: string; n: number }[]) {
    const route = (counts[row.route] ??= zeroStateCounts());
    route.queued = Math.max(0, route.queued - row.n);
    route.scheduled += row.n;
  }
  return counts;
}

/** Queue names. Reads: the distinct queues of jobs (a skip scan), workers and schedules. Returns them sorted. */
export function listQueues(s: SqliteStore): string[] {
  return (s.stmt.queueNames.all() as { queue: string }[]).map((r) => r.queue);
}
