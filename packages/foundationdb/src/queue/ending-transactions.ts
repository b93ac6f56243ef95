// The transactions that end an attempt (complete and fail), and the steps every ending shares: a
// delivery ended, its job's end and retention, a job's keys cleared. Each body runs in the port's
// retry loop, so it may run more than once and must be idempotent.
import {
  TERMINAL_STATES,
  failureOutcome,
  fitError,
  holdsLease,
  leaseLost,
  resultTooLarge,
  type FailRequest,
  type FailureOutcome,
  type LeaseToken,
  type RetentionSchedule,
} from '@skq/core/backend';
import { unpack } from '../kv/tuple.js';
import { holdGroup } from './group-transactions.js';
import type { QueueTransaction } from './queue-transaction.js';
import { MAX_VALUE_BYTES, counterValue, decode, encode, type StoredDelivery, type StoredJob } from './records.js';

/**
 * Reads a delivery under its lease. The call's own retry after commit_unknown_result (same
 * `nonce`) finds the attempt already ended by it, and gets `replayed`: from the delivery, or, when
 * that ending removed the job (retention `true`), from the call's end marker; any other call is fenced.
 */
async function leased(qt: QueueTransaction, lease: LeaseToken, nonce: string, endMarker: Buffer): Promise<{ d: StoredDelivery; replayed: null } | { d: null; replayed: NonNullable<StoredDelivery['lastEnd']> }> {
  const d = await qt.delivery(lease.deliveryId);
  if (!d) {
    const marker = await qt.tr.get(endMarker);
    if (marker) return { d: null, replayed: decode<NonNullable<StoredDelivery['lastEnd']>>(marker) };
    throw leaseLost(qt.queue, lease, null);
  }
  if (d.lastEnd?.nonce === nonce) return { d: null, replayed: d.lastEnd };
  if (!holdsLease(d, lease)) throw leaseLost(qt.queue, lease, d);
  return { d, replayed: null };
}

/** An ending that removed its job leaves the call's end marker, which a rerun reads instead of the delivery. */
function markRemovedEnd(qt: QueueTransaction, removed: boolean, endMarker: Buffer, lastEnd: NonNullable<StoredDelivery['lastEnd']>): void {
  if (removed) qt.tr.set(endMarker, encode(lastEnd));
}

/**
 * Complete. Reads: the delivery (fenced by the lease token), its job and the job's other
 * deliveries. Writes: the delivery succeeded with its result, counters, throughput, the lease key
 * cleared, a `succeeded` event, the job's end and retention. A rerun after commit_unknown_result
 * finds the attempt already ended by this call and writes nothing.
 */
export async function completeDelivery(qt: QueueTransaction, lease: LeaseToken, result: unknown, retention: RetentionSchedule, nonce: string, endMarker: Buffer): Promise<void> {
  const { d, replayed } = await leased(qt, lease, nonce, endMarker);
  if (replayed) return;
  // Workers refuse such a result before they call (core's rule); a caller that did not is refused the same way, once.
  const refused = resultTooLarge(JSON.stringify(result ?? null), MAX_VALUE_BYTES, { queue: qt.queue, jobId: d.jobId, deliveryId: d.id });
  if (refused) {
    await failDelivery(qt, lease, { error: fitError(refused.toJSON(), MAX_VALUE_BYTES) }, retention, nonce, endMarker);
    return;
  }
  qt.tr.clear(qt.leaseKey(d));
  d.result = result ?? null;
  d.lastEnd = { nonce, outcome: 'succeeded' };
  markRemovedEnd(qt, await endDelivery(qt, d, 'succeeded', lease.workerId, retention), endMarker, d.lastEnd);
}

/**
 * Fail. Like complete; the delivery is queued again at `retryAt`, or ends failed or cancelled. A
 * rate-limited attempt is queued again uncharged (its `maxAttempts` one higher), and with
 * `holdGroupUntil` its group's hold is raised to that instant (an atomic max: no read, no conflict,
 * and a rerun writes the same). Returns how it ended (a rerun returns the first run's answer).
 */
export async function failDelivery(qt: QueueTransaction, lease: LeaseToken, request: FailRequest, retention: RetentionSchedule, nonce: string, endMarker: Buffer): Promise<FailureOutcome> {
  const { d, replayed } = await leased(qt, lease, nonce, endMarker);
  if (replayed) return replayed.outcome as FailureOutcome;
  qt.tr.clear(qt.leaseKey(d));
  d.error = fitError(request.error, MAX_VALUE_BYTES);
  d.leaseUntil = null;
  d.leaseVersion = null;
  const outcome = failureOutcome(request, d);
  d.lastEnd = { nonce, outcome };
  if (outcome === 'retrying') {
    d.state = 'queued';
    d.runAt = request.retryAt!;
    if (request.rateLimited) {
      d.maxAttempts += 1;
      const until = request.rateLimited.holdGroupUntil;
      if (until != null && d.group !== undefined) holdGroup(qt, d.group, until);
    }
    qt.addPending(d);
    qt.count(d, 'running', 'queued');
    qt.putDelivery(d);
    qt.event('retrying', d.jobId, d.id, d.route, lease.workerId);
    return outcome;
  }
  markRemovedEnd(qt, await endDelivery(qt, d, outcome, lease.workerId, retention), endMarker, d.lastEnd);
  return outcome;
}

/**
 * Ends a queued or running delivery as `state`: stored with its end time, moved between counters,
 * counted in throughput (succeeded and failed, not cancelled), announced, and its job's end checked.
 * The caller has cleared its pending or lease key and set its result or error. Returns whether the
 * job was removed with it.
 */
export async function endDelivery(qt: QueueTransaction, d: StoredDelivery, state: 'succeeded' | 'failed' | 'cancelled', workerId: string | null, retention: RetentionSchedule): Promise<boolean> {
  const from = d.state;
  d.state = state;
  d.finishedAt = qt.now;
  d.leaseUntil = null;
  d.leaseVersion = null;
  qt.putDelivery(d);
  qt.count(d, from, state);
  if (state !== 'cancelled') qt.throughput(d.route, state);
  qt.event(state, d.jobId, d.id, d.route, workerId);
  return deliveryEnded(qt, d, retention);
}

/**
 * A delivery ended: once its job has no open delivery, the job ends (kind `failed` if any
 * delivery failed or was cancelled) and its retention rule applies: removed at once, or the
 * queue's ended jobs of that kind trimmed to the rule. Returns whether the job was removed.
 */
async function deliveryEnded(qt: QueueTransaction, ended: StoredDelivery, retention: RetentionSchedule): Promise<boolean> {
  const job = await qt.job(ended.jobId);
  if (!job) return false;
  const others = await Promise.all(job.deliveryIds.filter((id) => id !== ended.id).map((id) => qt.delivery(id)));
  const all = [ended, ...others.filter((d): d is StoredDelivery => d !== null)];
  if (all.some((d) => !TERMINAL_STATES.has(d.state))) return false;
  const kind = all.some((d) => d.state !== 'succeeded') ? 'failed' : 'completed';
  if (job.dedupeKey) {
    // The key is free again: clear it if it still names this job. A read with a conflict, so an
    // enqueue that takes the key meanwhile makes this commit retry rather than lose its pointer.
    const dedupeKey = qt.keys.key('dedupe', job.dedupeKey);
    if ((await qt.tr.get(dedupeKey))?.toString('utf8') === job.id) qt.tr.clear(dedupeKey);
  }
  const step = retention.afterEnd(qt.queue, kind, job.options);
  if (step.action === 'remove') {
    deleteJob(qt, job, all);
    return true;
  }
  qt.markEnded(job, kind);
  if (step.action !== 'trim') return false;
  const { count, ageMs } = step.rule;
  const victims: string[] = [];
  if (ageMs !== null) {
    const old = await qt.tr.snapshot.getRange(qt.keys.range('ended', kind)[0], qt.keys.key('ended', kind, qt.now - ageMs), { limit: 1_000 });
    victims.push(...old.map(([key]) => unpack(key).slice(-1)[0] as string));
  }
  if (count !== null && victims.length === 0) {
    const total = counterValue(await qt.tr.snapshot.get(qt.keys.key('endedN', kind)));
    if (total > count) {
      const oldest = await qt.tr.snapshot.getRange(...qt.keys.range('ended', kind), { limit: Math.min(1_000, total - count) });
      victims.push(...oldest.map(([key]) => unpack(key).slice(-1)[0] as string));
    }
  }
  for (const id of victims) {
    if (id === job.id) continue;
    const victim = await qt.job(id);
    if (victim) deleteJob(qt, victim, await qt.deliveriesOf(victim));
  }
  return false;
}

/** Clears every key of a job; counters follow its deliveries' states. */
export function deleteJob(qt: QueueTransaction, job: StoredJob, deliveries: StoredDelivery[]): void {
  for (const d of deliveries) {
    qt.tr.clear(qt.keys.delivery(d.id));
    qt.tr.clearRange(...qt.keys.range('do', d.id));
    if (d.state === 'queued') qt.removePending(d);
    if (d.state === 'running') qt.tr.clear(qt.leaseKey(d));
    qt.count(d, d.state, null);
  }
  qt.unmarkEnded(job);
  qt.tr.clear(qt.keys.job(job.id));
  qt.tr.clear(qt.keys.key('list', job.createdAt, job.id));
  qt.tr.clearRange(...qt.keys.range('log', job.id));
}
