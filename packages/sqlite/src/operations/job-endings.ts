import { THROUGHPUT_WINDOW_MS, minuteOf, type EndedKind, type RetentionRule, type ThroughputBucket, type EndedDelivery } from '@skq/core/backend';
import { runOptionsOf } from '../rows.js';
import { recordNotice } from './events.js';
import { withDefaultRetention, type SqliteStore } from './store.js';

// What happens when a delivery ends: the throughput count of its minute, and, once its job has no
// open delivery left, the job's end and the retention rule stored with it. These run inside the
// write transaction of the operation that ended the delivery.

/**
 * A delivery ended as `outcome`. A job that sets no retention of its own gets the backend's
 * (`removeOnComplete` and `removeOnFail` of the SQLite options; by default the newest 1,000
 * succeeded jobs for a day, 10,000 failed or cancelled ones for a week).
 * - Reads: for a job of several deliveries, how many of them are open (queued or running) and how
 *   many ended failed or cancelled.
 * - Writes: the minute's throughput count (not for a cancel; every thousandth count also deletes
 *   counts older than the throughput window). A job of one delivery ended in the same statement as
 *   it; one of several ends now when none is open: its first row's ended_at, and ended_bad when any
 *   failed or was cancelled. Then what its retention rule asks: the job deleted (with a notice of
 *   this end, since its row is gone before other processes read it), or a batch of the queue's
 *   ended jobs of that kind past the rule's age, else past its count, deleted (see {@link removeJob}).
 */
export function deliveryEnded(s: SqliteStore, ended: EndedDelivery, outcome: 'succeeded' | 'failed' | 'cancelled', now: number): void {
  const { queue, jobId } = ended;
  if (outcome !== 'cancelled') countEnding(s, queue, ended.route, outcome, now);
  let kind: EndedKind = outcome === 'succeeded' ? 'completed' : 'failed';
  if (ended.fanout !== null) {
    const job = s.endingStmt.siblings.get(jobId) as { open: number; bad: number };
    if (job.open > 0) return;
    kind = job.bad > 0 ? 'failed' : 'completed';
    s.endingStmt.markEnded.run(now, job.bad > 0 ? 1 : 0, jobId);
  }
  const options = ended.options === null ? s.defaultRunOptions : withDefaultRetention(runOptionsOf(ended.options), s.defaultRetention);
  const step = s.retention.afterEnd(queue, kind, options);
  if (step.action === 'remove') {
    removeJob(s, jobId);
    // The row that stood for this end is gone before other processes read it: a notice says it
    // instead, and this process gets that notice rather than the row's change.
    const own = s.recorded.findLastIndex((e) => e.deliveryId === ended.deliveryId && e.type === outcome);
    if (own >= 0) s.recorded.splice(own, 1);
    recordNotice(s, queue, outcome, jobId, ended.deliveryId, ended.route, ended.workerId, now);
  } else if (step.action === 'trim') trim(s, queue, kind, step.rule, now);
}

/** Deletes a job. Reads: nothing. Writes: its rows and its log lines, deleted; its deliveries uncounted. */
export function removeJob(s: SqliteStore, jobId: string): void {
  uncount(s, s.endingStmt.deleteJob.all(jobId) as DeletedRow[]);
  s.endingStmt.deleteLogs.run(jobId);
}

type DeletedRow = { queue: string; route: string | null; state: number; dix: number };

/** Deleted rows leave the state counts. */
function uncount(s: SqliteStore, rows: DeletedRow[]): void {
  for (const row of rows) if (row.dix >= 0) s.tallies.count(row.queue, row.route, row.state, -1);
}

/** Throughput, a plain read. Reads: the queue's per-minute counts from minute `since` on. Returns them by minute, then route. */
export function throughput(s: SqliteStore, queue: string, since: number): ThroughputBucket[] {
  return s.endingStmt.throughputSince.all(queue, since) as ThroughputBucket[];
}

function trim(s: SqliteStore, queue: string, kind: EndedKind, rule: RetentionRule, now: number): void {
  const bad = kind === 'failed' ? 1 : 0;
  let victims: VictimGroup[] = [];
  if (rule.ageMs !== null) victims = s.endingStmt.endedBefore.all(queue, bad, now - rule.ageMs) as VictimGroup[];
  if (rule.count !== null && victims.length === 0) victims = s.endingStmt.endedBeyond.all(queue, bad, rule.count) as VictimGroup[];
  if (victims.length === 0) return;
  const anyLogs = (s.endingStmt.anyLogs.get() as { any: number }).any === 1;
  for (const { route, state, several, n, keys } of victims) {
    if (several) {
      // A job of several rows goes by its id, and uncounts the rows it had.
      for (const id of JSON.parse(keys) as string[]) removeJob(s, id);
      continue;
    }
    // Jobs of one row each go in one statement per group of the batch.
    if (anyLogs) s.endingStmt.deleteLogsOfRows.run(keys);
    s.endingStmt.deleteRows.run(keys);
    s.tallies.count(queue, route, state, -n);
  }
  releaseFreePages(s);
}

/** Victims of a trim, grouped: their route, state, whether their jobs have several rows, how many count, and their keys (JSON). */
type VictimGroup = { route: string | null; state: number; several: number; n: number; keys: string };

/** Pages free in the file past which they go back to the file system: 256 KiB. */
const FREE_PAGES_KEPT = 64;

/**
 * A file made with `auto_vacuum = INCREMENTAL` (every file of version 4 made new) gives its free
 * pages back once they pass {@link FREE_PAGES_KEPT}, so a file stays the size of what it holds.
 */
function releaseFreePages(s: SqliteStore): void {
  if ((s.endingStmt.freePages.get() as { freelist_count: number }).freelist_count > FREE_PAGES_KEPT) s.releaseFreePages();
}

function countEnding(s: SqliteStore, queue: string, route: string, outcome: 'succeeded' | 'failed', now: number): void {
  s.tallies.ended(queue, route, minuteOf(now), outcome);
  if (++s.throughputWrites % 1_000 === 0) s.endingStmt.trimThroughput.run(now - THROUGHPUT_WINDOW_MS);
}
