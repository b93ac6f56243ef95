// The transactions of a job's life: enqueue, claim, complete, fail, lease renewal and recovery.
// Each function is the body of one transaction on one queue (a QueueTransaction); the backend runs
// it in the port's retry loop, so a body may run more than once and must be idempotent.
import {
  TERMINAL_STATES,
  cancelledError,
  deliveryId,
  expiredLeaseError,
  expiredLeaseOutcome,
  failureOutcome,
  fitError,
  holdsLease,
  leaseLost,
  newDelivery,
  planDeliveries,
  resultTooLarge,
  unreadableJobError,
  workerGoneError,
  type ClaimRequest,
  type ClaimedDelivery,
  type EnqueueResult,
  type FailRequest,
  type FailureOutcome,
  type LeaseToken,
  type NewJob,
  type RetentionSchedule,
  type WorkerInfo,
} from '@skq/core';
import { unpack } from '../kv/tuple.js';
import { VERSIONS_PER_MS, type QueueTransaction } from './queue-transaction.js';
import { counterValue, decode, encode, toClaimed, type StoredDelivery, type StoredJob } from './records.js';

/** The most bytes of JSON one result, error, log line or job takes: FDB's values are at most 100,000 bytes, and each is one value with a little around it. */
export const MAX_VALUE_BYTES = 90_000;

/** Due deliveries moved from the timer index to the ready index per claim. */
const PROMOTE_LIMIT = 256;

/** A per-process enqueue order: time-based, so processes roughly agree, and strictly growing here. */
let lastSeq = 0;
function nextSeq(): number {
  lastSeq = Math.max(lastSeq + 1, Date.now() * 1_000);
  return lastSeq;
}

/**
 * Enqueue. Reads: the job's key (a stored id is answered as stored), the dedupe key and its
 * holder's deliveries, the live workers of a broadcast. Writes: the job, its deliveries, their
 * pending keys and counters, the listing key, the dedupe key, `enqueued` events. Returns the
 * contract's result. Idempotent: a rerun finds the job stored.
 */
export async function enqueueJob(qt: QueueTransaction, job: NewJob, liveWorkers: () => Promise<WorkerInfo[]>): Promise<EnqueueResult> {
  const stored = await qt.job(job.id);
  if (stored) return { id: job.id, deduped: false, deliveries: stored.deliveryIds.length };
  if (job.dedupeKey) {
    const dedupeKey = qt.keys.key('dedupe', job.dedupeKey);
    const holderId = await qt.tr.get(dedupeKey);
    if (holderId) {
      const holder = await qt.job(holderId.toString('utf8'));
      if (holder && !holder.endedKind && (await qt.deliveriesOf(holder)).some((d) => !TERMINAL_STATES.has(d.state))) {
        return { id: holder.id, deduped: true, deliveries: 0 };
      }
    }
    qt.tr.set(dedupeKey, Buffer.from(job.id, 'utf8'));
  }
  const targets = planDeliveries(job.routes, job.type, job.type === 'broadcast' ? await liveWorkers() : []);
  const record: StoredJob = {
    id: job.id,
    name: job.name,
    args: job.args,
    routes: job.routes,
    type: job.type,
    priority: job.priority,
    createdAt: job.createdAt,
    options: job.options,
    dedupeKey: job.dedupeKey ?? null,
    deliveryIds: targets.map((_, i) => deliveryId(job.id, i)),
    endedKind: null,
    endedAt: null,
  };
  targets.forEach((target, i) => {
    const d: StoredDelivery = { ...newDelivery(job, target, i), seq: nextSeq(), leaseVersion: null, lastEnd: null };
    qt.putDelivery(d);
    qt.addPending(d);
    qt.count(d.route, null, 'queued');
    qt.event('enqueued', job.id, d.id, d.route, d.targetWorker);
  });
  qt.tr.set(qt.keys.key('list', job.createdAt, job.id), Buffer.alloc(0));
  if (targets.length === 0) {
    qt.markEnded(record, 'failed');
    qt.event('cancelled', job.id, null, null, null);
  } else {
    qt.putJob(record);
  }
  return { id: job.id, deduped: false, deliveries: targets.length };
}

/**
 * Claim. Reads: the pause keys (so a pause committed meanwhile conflicts), a snapshot of the timer
 * and ready indexes, and each chosen delivery (the only read conflict on pending work: two
 * claimers collide only when they choose the same delivery). Writes: due timer entries moved to
 * the ready index, the chosen deliveries running under a lease that ends at a cluster version,
 * their lease keys and counters, `started` events. `share` says which of the active claimers this
 * one is: a lone claimer takes the head in strict order; several split the head between them.
 */
export async function claimDeliveries(qt: QueueTransaction, request: ClaimRequest, share: ClaimShare): Promise<{ deliveries: ClaimedDelivery[]; nextRunAt: number | null; paused?: boolean }> {
  const { route, workerId, limit } = request;
  const [routePaused, queuePaused] = await Promise.all([qt.tr.get(qt.keys.key('paused', route)), qt.tr.get(qt.keys.key('paused', '*'))]);
  if (routePaused || queuePaused) return { deliveries: [], nextRunAt: null, paused: true };
  const version = await qt.version();
  let nextRunAt: number | null = null;
  for (const target of ['', workerId]) {
    const next = await promoteDue(qt, route, target);
    if (next !== null && (nextRunAt === null || next < nextRunAt)) nextRunAt = next;
  }
  // Deliveries targeted at this worker (broadcast) are its alone; the shared ones are split by share.
  const own = await qt.tr.snapshot.getRange(...qt.keys.range('r', route, workerId), { limit });
  const shared = await sharedHead(qt, route, limit, share);
  const candidates = [...own, ...shared]
    .map(([key]) => ({ key, parts: unpack(key).slice(5) as [number, number, number, string] }))
    .sort((a, b) => a.parts[0] - b.parts[0] || a.parts[1] - b.parts[1] || a.parts[2] - b.parts[2]);
  const chosen = choose(candidates, limit, share);
  const claimed: ClaimedDelivery[] = [];
  for (const { key, parts } of chosen) {
    const d = await qt.delivery(parts[3]);
    if (!d || d.state !== 'queued' || d.runAt > qt.now || !qt.pendingKey(d, true).equals(key)) {
      qt.tr.clear(key); // A stale index entry: the delivery moved on, or waits under another key.
      if (d?.state === 'queued') qt.addPending(d);
      continue;
    }
    let job: StoredJob | null;
    try {
      job = await qt.job(d.jobId, true);
    } catch (cause) {
      // A stored job that cannot be read fails now, with why; the deliveries behind it still run.
      qt.tr.clear(key);
      failUnreadable(qt, d, workerId, cause);
      continue;
    }
    if (!job) continue;
    qt.tr.clear(key);
    d.state = 'running';
    d.workerId = workerId;
    d.attempts += 1;
    d.startedAt = qt.now;
    d.cancelRequested = false;
    d.leaseUntil = qt.now + request.leaseMs;
    d.leaseVersion = version + request.leaseMs * VERSIONS_PER_MS;
    qt.putDelivery(d);
    qt.tr.set(qt.leaseKey(d), Buffer.alloc(0));
    qt.count(d.route, 'queued', 'running');
    qt.event('started', d.jobId, d.id, d.route, workerId);
    claimed.push(toClaimed(qt.queue, d, job, qt.now));
  }
  return { deliveries: claimed, nextRunAt: claimed.length < limit ? nextRunAt : null };
}

/**
 * The head of the shared ready index, as far as this claimer needs: a lone claimer reads `limit`
 * keys; one of several reads pages of eight times the shares until one holds a key of its share
 * (at most {@link MAX_PAGES}), so a claimer whose share the others left behind in the head looks
 * further instead of taking theirs.
 */
async function sharedHead(qt: QueueTransaction, route: string, limit: number, share: ClaimShare): Promise<[Buffer, Buffer][]> {
  let [begin] = qt.keys.range('r', route, '');
  const end = qt.keys.range('r', route, '')[1];
  if (share.of <= 1) return qt.tr.snapshot.getRange(begin, end, { limit });
  const page = Math.min(WINDOW_LIMIT, limit * share.of * 8);
  const rows: [Buffer, Buffer][] = [];
  for (let n = 0; n < MAX_PAGES; n += 1) {
    const found = await qt.tr.snapshot.getRange(begin, end, { limit: page });
    rows.push(...found);
    if (found.length < page || found.some(([key]) => shareOf(unpack(key).slice(-1)[0] as string, share.of, 0) === share.index)) break;
    begin = Buffer.concat([found[found.length - 1]![0], Buffer.from([0x00])]);
  }
  return rows;
}

/** Moves due timer entries of one target to the ready index; returns the earliest run time still ahead. */
async function promoteDue(qt: QueueTransaction, route: string, target: string): Promise<number | null> {
  const [begin, end] = qt.keys.range('t', route, target);
  const entries = await qt.tr.snapshot.getRange(begin, end, { limit: PROMOTE_LIMIT + 1 });
  for (const [key] of entries) {
    const [runAt, negPriority, seq, id] = unpack(key).slice(5) as [number, number, number, string];
    if (runAt > qt.now) return runAt;
    // Blind writes: two claimers promoting the same entry write the same keys and do not conflict.
    qt.tr.clear(key);
    qt.tr.set(qt.keys.key('r', route, target, negPriority, runAt, seq, id), Buffer.alloc(0));
  }
  return null;
}

/** Which of `of` active claimers of a route this one is (0-based, by worker id). */
export interface ClaimShare {
  index: number;
  of: number;
}

/** The most head keys a claim reads per page, and the most pages. */
const WINDOW_LIMIT = 1_000;
const MAX_PAGES = 4;

/**
 * The deliveries to claim. Alone, the first `limit` in order. Among several claimers, the first of
 * the head that fall to this claimer's share (a hash of the delivery id, so a delivery's owner does
 * not change as others are taken): claimers that agree on who is active never pick the same
 * delivery, which is what keeps conflicts rare. With none of its share in what it read, a claimer
 * helps with the deliveries a second hash gives it, so no delivery waits on a claimer that fell
 * behind (one that went away stops counting when its registration expires).
 */
function choose<T extends { parts: [number, number, number, string] }>(candidates: T[], limit: number, share: ClaimShare): T[] {
  if (share.of <= 1 || candidates.length <= 1) return candidates.slice(0, limit);
  const picked = candidates.filter((c) => shareOf(c.parts[3], share.of, 0) === share.index).slice(0, limit);
  // Short of its share: it helps with the deliveries a second, independent hash gives it, from the
  // far end, where their owners come last. Each delivery then has one owner and one helper, so at
  // most two claimers contend for it.
  if (picked.length < limit) {
    const helped = candidates.filter((c) => !picked.includes(c) && shareOf(c.parts[3], share.of, 1) === share.index);
    picked.push(...helped.slice(-(limit - picked.length)));
  }
  if (picked.length < limit) {
    // Neither its share nor its help is here (a nearly empty queue): the rest, in order to finish a
    // batch, or at random to start one, so that idle claimers do not all take the first.
    const rest = candidates.filter((c) => !picked.includes(c));
    if (picked.length > 0) picked.push(...rest.slice(0, limit - picked.length));
    else while (picked.length < limit && rest.length) picked.push(rest.splice(Math.floor(Math.random() * rest.length), 1)[0]!);
  }
  return picked.sort((a, b) => a.parts[0] - b.parts[0] || a.parts[1] - b.parts[1] || a.parts[2] - b.parts[2]);
}

/** FNV-1a of the delivery id (with a different start for each `seed`), modulo the number of shares. */
function shareOf(id: string, of: number, seed: 0 | 1): number {
  let h = seed === 0 ? 0x811c9dc5 : 0x01000193;
  for (let i = 0; i < id.length; i += 1) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) % of;
}

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
 * Fail. Like complete; the delivery is queued again at `retryAt`, or ends failed or cancelled.
 * Returns how it ended (a rerun returns the first run's answer).
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
    qt.addPending(d);
    qt.count(d.route, 'running', 'queued');
    qt.putDelivery(d);
    qt.event('retrying', d.jobId, d.id, d.route, lease.workerId);
    return outcome;
  }
  markRemovedEnd(qt, await endDelivery(qt, d, outcome, lease.workerId, retention), endMarker, d.lastEnd);
  return outcome;
}

/** Extend leases. Reads: each delivery (fenced). Writes: a later lease version and its lease key. Returns the leases still held. Idempotent: a rerun sets the same deadline. */
export async function extendLeases(qt: QueueTransaction, leases: LeaseToken[], leaseMs: number): Promise<LeaseToken[]> {
  const version = await qt.version();
  const kept: LeaseToken[] = [];
  for (const lease of leases) {
    const d = await qt.delivery(lease.deliveryId);
    if (!d || !holdsLease(d, lease)) continue;
    qt.tr.clear(qt.leaseKey(d));
    d.leaseVersion = version + leaseMs * VERSIONS_PER_MS;
    d.leaseUntil = qt.now + leaseMs;
    qt.tr.set(qt.leaseKey(d), Buffer.alloc(0));
    qt.putDelivery(d);
    kept.push(lease);
  }
  return kept;
}

/**
 * Recovery. Reads: the lease index up to the cluster's current version (shifted by `aheadMs` when
 * the caller asks about a later instant), and each expired delivery. Writes: each one queued again
 * (or ended failed or cancelled once it has been taken back too often), with its events. Returns
 * how many it took back. Expiry compares cluster versions only, never two machines' clocks.
 */
export async function recoverDeliveries(qt: QueueTransaction, aheadMs: number, retention: RetentionSchedule): Promise<number> {
  const version = (await qt.version()) + aheadMs * VERSIONS_PER_MS;
  const [begin] = qt.keys.range('l');
  const entries = await qt.tr.snapshot.getRange(begin, qt.keys.key('l', Math.max(0, Math.floor(version))), { limit: 500 });
  let recovered = 0;
  for (const [key] of entries) {
    const id = unpack(key).slice(-1)[0] as string;
    const d = await qt.delivery(id);
    qt.tr.clear(key);
    if (!d || d.state !== 'running' || qt.leaseKey(d).compare(key) !== 0) continue;
    const outcome = expiredLeaseOutcome(d);
    recovered += 1;
    if (outcome === 'recovered') {
      d.state = 'queued';
      d.runAt = qt.now;
      d.recoveries += 1;
      d.leaseUntil = null;
      d.leaseVersion = null;
      qt.addPending(d);
      qt.count(d.route, 'running', 'queued');
      qt.putDelivery(d);
      qt.event('recovered', d.jobId, d.id, d.route, d.workerId);
      continue;
    }
    d.error = expiredLeaseError(d, outcome);
    await endDelivery(qt, d, outcome, d.workerId, retention);
  }
  return recovered;
}

/**
 * A queued delivery whose job cannot be decoded ends failed with ARGS_INVALID, as claimed by `workerId`.
 * The job's own end is not recorded: its record is what cannot be read.
 */
function failUnreadable(qt: QueueTransaction, d: StoredDelivery, workerId: string, cause: unknown): void {
  d.state = 'failed';
  d.workerId = workerId;
  d.attempts += 1;
  d.startedAt = qt.now;
  d.finishedAt = qt.now;
  d.error = unreadableJobError(d.jobId, cause);
  qt.putDelivery(d);
  qt.count(d.route, 'queued', 'failed');
  qt.throughput(d.route, 'failed');
  qt.event('failed', d.jobId, d.id, d.route, workerId);
}

/**
 * Broadcast deliveries whose worker is gone. Reads: the addressed pairs, the live registrations, and the
 * pending keys of each pair whose worker is gone (500 per pair). Writes: those deliveries failed with
 * WORKER_GONE (counters, events, the job's end); a pair with nothing left pending is cleared.
 * Returns how many failed.
 */
export async function failOrphaned(qt: QueueTransaction, live: ReadonlySet<string>, retention: RetentionSchedule): Promise<number> {
  let failed = 0;
  for (const [pair] of await qt.tr.snapshot.getRange(...qt.keys.range('a'))) {
    const [route, target] = unpack(pair).slice(-2) as [string, string];
    if (live.has(target)) continue;
    let left = false;
    for (const kind of ['r', 't']) {
      const pending = await qt.tr.getRange(...qt.keys.range(kind, route, target), { limit: 500 });
      left ||= pending.length === 500;
      for (const [key] of pending) {
        const d = await qt.delivery(unpack(key).slice(-1)[0] as string);
        qt.tr.clear(key);
        if (!d || d.state !== 'queued') continue;
        d.error = workerGoneError(d);
        await endDelivery(qt, d, 'failed', target, retention);
        failed += 1;
      }
    }
    if (!left) qt.tr.clear(pair);
  }
  return failed;
}

/**
 * Cancel. Reads: the job and its deliveries. Writes: queued deliveries cancelled (pending keys
 * cleared, counters, events, the job's end), a cancel request on running ones. Returns whether any
 * delivery was open. Run with a marker (a retry returns the first answer).
 */
export async function cancelJob(qt: QueueTransaction, jobId: string, retention: RetentionSchedule): Promise<boolean> {
  const job = await qt.job(jobId);
  if (!job) return false;
  let open = false;
  for (const d of await qt.deliveriesOf(job)) {
    if (d.state === 'queued') {
      open = true;
      qt.removePending(d);
      d.error = cancelledError(jobId);
      await endDelivery(qt, d, 'cancelled', null, retention);
    } else if (d.state === 'running') {
      open = true;
      d.cancelRequested = true;
      qt.putDelivery(d);
      qt.event('cancel-requested', jobId, d.id, d.route, d.workerId);
    }
  }
  return open;
}

/** Reschedule. Reads: the job and its deliveries. Writes: each queued one's pending key moved to `runAt`, events. Returns false if none was queued. */
export async function rescheduleJob(qt: QueueTransaction, jobId: string, runAt: number): Promise<boolean> {
  const job = await qt.job(jobId);
  if (!job) return false;
  let moved = false;
  for (const d of await qt.deliveriesOf(job)) {
    if (d.state !== 'queued') continue;
    moved = true;
    qt.removePending(d);
    d.runAt = runAt;
    qt.addPending(d);
    qt.putDelivery(d);
    qt.event('rescheduled', jobId, d.id, d.route, null);
  }
  return moved;
}

/**
 * Retry. Reads: the job and its deliveries. Writes: failed and cancelled deliveries queued again
 * with a fresh budget (pending keys, counters, events), the job's end undone. Returns how many.
 * `seen` holds, across reruns of the transaction, the attempt count each delivery had when first
 * read: a rerun (after a conflict with another retry) retries only an ending it first saw, not a
 * later one (the retried job ran and failed again meanwhile), so of two retries racing, exactly
 * one wins, as on stores that run the retry as one atomic step.
 */
export async function retryJob(qt: QueueTransaction, jobId: string, request: { runAt: number; attempts: number }, seen = new Map<string, number>()): Promise<number> {
  const job = await qt.job(jobId);
  if (!job) return 0;
  let n = 0;
  for (const d of await qt.deliveriesOf(job)) {
    if (!seen.has(d.id)) seen.set(d.id, d.attempts);
    if (d.state !== 'failed' && d.state !== 'cancelled') continue;
    if (seen.get(d.id) !== d.attempts) continue;
    n += 1;
    qt.count(d.route, d.state, 'queued');
    Object.assign(d, { state: 'queued', runAt: request.runAt, maxAttempts: d.attempts - d.recoveries + request.attempts, workerId: null });
    Object.assign(d, { leaseUntil: null, leaseVersion: null, finishedAt: null, result: null, error: null, cancelRequested: false, lastEnd: null });
    qt.addPending(d);
    qt.putDelivery(d);
    qt.event('retrying', jobId, d.id, d.route, null);
  }
  if (n) {
    qt.unmarkEnded(job);
    qt.putJob(job);
  }
  return n;
}

/** Remove. Reads: each job and its deliveries. Writes: every key of each job that has no running delivery cleared, `removed` events. Returns the ids deleted. */
export async function removeJobs(qt: QueueTransaction, jobIds: string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const jobId of jobIds) {
    const job = await qt.job(jobId);
    if (!job) continue;
    const deliveries = await qt.deliveriesOf(job);
    if (deliveries.some((d) => d.state === 'running')) continue;
    deleteJob(qt, job, deliveries);
    qt.event('removed', jobId, null, null, null);
    removed.push(jobId);
  }
  return removed;
}

/** Progress. Reads: the delivery (fenced by the lease). Writes: its progress, a `progress` event. Returns nothing. */
export async function storeProgress(qt: QueueTransaction, lease: LeaseToken, progress: unknown): Promise<void> {
  const d = await qt.delivery(lease.deliveryId);
  if (!d || !holdsLease(d, lease)) throw leaseLost(qt.queue, lease, d);
  d.progress = progress ?? null;
  qt.putDelivery(d);
  qt.event('progress', d.jobId, d.id, d.route, lease.workerId, progress ?? null);
}

/** Read a job. Reads: the job and its deliveries, as snapshots (a read-only transaction conflicts with nothing). Writes nothing. */
export async function readJob(qt: QueueTransaction, jobId: string): Promise<{ job: StoredJob; deliveries: StoredDelivery[] } | null> {
  const job = await qt.job(jobId, true);
  return job ? { job, deliveries: await qt.deliveriesOf(job, true) } : null;
}

/**
 * Ends a queued or running delivery as `state`: stored with its end time, moved between counters,
 * counted in throughput (succeeded and failed, not cancelled), announced, and its job's end checked.
 * The caller has cleared its pending or lease key and set its result or error. Returns whether the
 * job was removed with it.
 */
async function endDelivery(qt: QueueTransaction, d: StoredDelivery, state: 'succeeded' | 'failed' | 'cancelled', workerId: string | null, retention: RetentionSchedule): Promise<boolean> {
  const from = d.state;
  d.state = state;
  d.finishedAt = qt.now;
  d.leaseUntil = null;
  d.leaseVersion = null;
  qt.putDelivery(d);
  qt.count(d.route, from, state);
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
function deleteJob(qt: QueueTransaction, job: StoredJob, deliveries: StoredDelivery[]): void {
  for (const d of deliveries) {
    qt.tr.clear(qt.keys.delivery(d.id));
    qt.tr.clearRange(...qt.keys.range('do', d.id));
    if (d.state === 'queued') qt.removePending(d);
    if (d.state === 'running') qt.tr.clear(qt.leaseKey(d));
    qt.count(d.route, d.state, null);
  }
  qt.unmarkEnded(job);
  qt.tr.clear(qt.keys.job(job.id));
  qt.tr.clear(qt.keys.key('list', job.createdAt, job.id));
  qt.tr.clearRange(...qt.keys.range('log', job.id));
}

