import { minuteOf, type EndedKind, type RetentionRule, type ThroughputBucket, type EndedDelivery } from '@skq/core/backend';
import { runOptionsOf } from '../rows.js';
import { run, withDefaultRetention, type PgTx } from '../store.js';

// What happens when a delivery ends: the throughput count of its minute, and, once its job has no
// open delivery left, the job's end and the retention rule stored with it. These run inside the
// transaction of the operation that ended the delivery.

/** Jobs deleted per trim, so that one trim never holds its locks for long (and VACUUM keeps up). */
const TRIM_BATCH = 1_000;

/**
 * A delivery ended as `outcome`. A job that sets no retention of its own gets the backend's
 * (`removeOnComplete` and `removeOnFail` of the options; by default the newest 1,000 succeeded jobs
 * for a day, 10,000 failed or cancelled ones for a week).
 * - Reads: for a job of several deliveries, with its first row locked (two deliveries ending at once
 *   take turns), how many of them are open and how many ended failed or cancelled.
 * - Writes: the minute's throughput count, added up in the transaction (not for a cancel; see
 *   `closeTx`). A job of one delivery ended in the
 *   same statement as it; one of several ends now when none is open: its first row's ended_at, and
 *   ended_bad when any failed or was cancelled. Then what its retention rule asks: the job deleted, or
 *   a batch of the queue's ended jobs of that kind past the rule's age, else past its count, deleted.
 */
export async function deliveryEnded(t: PgTx, ended: EndedDelivery, outcome: 'succeeded' | 'failed' | 'cancelled', now: number): Promise<void> {
  const { queue, jobId } = ended;
  if (outcome !== 'cancelled') countEnding(t, queue, ended.route, outcome, now);
  let kind: EndedKind = outcome === 'succeeded' ? 'completed' : 'failed';
  if (ended.fanout !== null) {
    await run(t, 'lockJob', [jobId]);
    const job = (await run<{ open: number; bad: number }>(t, 'siblings', [jobId])).rows[0]!;
    if (job.open > 0) return;
    kind = job.bad > 0 ? 'failed' : 'completed';
    await run(t, 'markEnded', [now, job.bad > 0, jobId]);
  }
  const options = ended.options === null ? t.store.defaultRunOptions : withDefaultRetention(runOptionsOf(ended.options), t.store.defaultRetention);
  const step = t.store.retention.afterEnd(queue, kind, options);
  if (step.action === 'remove') await removeJob(t, jobId);
  else if (step.action === 'trim') await trimEnded(t, queue, kind, step.rule, now);
}

/** Deletes a job. Writes: its rows and its log lines, deleted. */
export async function removeJob(t: PgTx, jobId: string): Promise<void> {
  await run(t, 'deleteJob', [jobId]);
  await run(t, 'deleteLogs', [jobId]);
}

/** Throughput, a plain read. Reads: the queue's per-minute counts from minute `since` on, summed over stripes. Returns them by minute, then route. */
export async function throughput(t: PgTx, queue: string, since: number): Promise<ThroughputBucket[]> {
  return (await run<ThroughputBucket>(t, 'throughputSince', [queue, since])).rows;
}

/** Retention's trim, one statement: a batch of `queue`'s ended jobs of `kind` past `rule`, deleted (see `trimEnded` in sql-text). */
export async function trimEnded(t: PgTx, queue: string, kind: EndedKind, rule: RetentionRule, now: number): Promise<void> {
  await run(t, 'trimEnded', [queue, kind === 'failed', rule.ageMs === null ? null : now - rule.ageMs, rule.count, TRIM_BATCH]);
}

/** A delivery of `route` ended in this minute: counted in the transaction, written as it closes (see `closeTx`). */
function countEnding(t: PgTx, queue: string, route: string, outcome: 'succeeded' | 'failed', now: number): void {
  const minute = minuteOf(now);
  const key = `${queue}\u0000${route}\u0000${minute}`;
  let tally = t.throughput.get(key);
  if (!tally) t.throughput.set(key, (tally = { queue, route, minute, completed: 0, failed: 0 }));
  if (outcome === 'succeeded') tally.completed += 1;
  else tally.failed += 1;
}
