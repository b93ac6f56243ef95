import { isSkqError } from '@skq/core';
import { THROUGHPUT_WINDOW_MS, failureOutcome, holdsLease, leaseLost, minuteOf, parseDeliveryId, type FailRequest, type JobRow, type LeaseToken } from '@skq/core/backend';
import { STATE_CODE, STATE_NAME } from '../schema.js';
import { run, type PgTx } from '../store.js';
import { deliveryEnded, trimEnded } from './job-endings.js';

// The writes of the worker that holds a delivery's lease: its result, its failure, its progress and
// the lease's renewal. Each acts only under the current lease (holder and attempt): a stale one is
// refused with LEASE_LOST (or, for a renewal, left out of the answer) and writes nothing.

/** What a lease holder's write reads of its row: the lease, and what the delivery's end needs. */
type LeaseRow = Pick<JobRow, 'queue' | 'state' | 'worker_id' | 'attempts' | 'recoveries' | 'cancel_requested' | 'fanout' | 'options'> & { route: string; grp: string | null };

/** A completion asked for, as {@link completeMany} takes it. */
export interface Completion {
  queue: string;
  lease: LeaseToken;
  result: unknown;
}

/**
 * Complete many, inside one transaction (a group's completions: see `group-commit.ts`). Writes: in one
 * statement, each row succeeded with its result under its lease (checked by the statement); a
 * `succeeded` event each; then each end (see {@link deliveryEnded}). Reads: only for a lease that did
 * not hold, its row, to say why. Returns, per completion, null or the `LEASE_LOST` it is refused with.
 */
export async function completeMany(t: PgTx, completions: Completion[]): Promise<(Error | null)[]> {
  const now = Date.now();
  const parsed = completions.map((c) => parseDeliveryId(c.lease.deliveryId));
  const { rows } = await run<{ id: string; dix: number; route: string; fanout: number | null; options: string | null }>(t, 'completeMany', [
    now,
    parsed.map((p) => p.id),
    parsed.map((p) => p.dix),
    completions.map((c) => c.queue),
    completions.map((c) => c.lease.workerId),
    completions.map((c) => c.lease.attempt),
    completions.map((c) => JSON.stringify(c.result ?? null)),
  ]);
  const done = new Map(rows.map((row) => [`${row.id}.${row.dix}`, row]));
  const outcomes: (Error | null)[] = [];
  for (const { queue, lease } of completions) {
    const row = done.get(lease.deliveryId);
    // Each completed row answers one completion: a second completion of the same lease is refused.
    done.delete(lease.deliveryId);
    if (!row) {
      outcomes.push(await refusal(t, queue, lease));
      continue;
    }
    t.events.push({ type: 'succeeded', queue, jobId: row.id, deliveryId: lease.deliveryId, route: row.route, workerId: lease.workerId, at: now });
    await deliveryEnded(t, { queue, jobId: row.id, deliveryId: lease.deliveryId, route: row.route, workerId: lease.workerId, fanout: row.fanout, options: row.options }, 'succeeded', now);
    outcomes.push(null);
  }
  return outcomes;
}

/** What {@link completeDirect} did not do: completions for {@link completeMany}, and retention's upkeep, if due. */
export interface DirectCompletions<C> {
  left: C[];
  /** Trims that retention asks for now (see {@link completeDirect}); null when none is due. */
  upkeep: ((t: PgTx) => Promise<void>) | null;
}

/**
 * Complete many of `queue` in one statement, its own transaction: the common case (a job of one
 * delivery, with the backend's retention) without BEGIN and COMMIT. Writes: in that statement, the rows
 * succeeded under their leases (deleted with their log lines when the backend removes every succeeded
 * job), the minute's throughput, a `succeeded` event each. Returns the
 * completions it did not do (a lease that did not hold, a job of several deliveries or with a retention
 * of its own), for {@link completeMany}, and what retention asks for now (a trim of the queue's
 * succeeded jobs, of throughput counts past the window), to run once the completions are answered:
 * should it fail, the next trim does its work.
 */
export async function completeDirect<C extends Completion>(t: PgTx, queue: string, completions: C[]): Promise<DirectCompletions<C>> {
  // A backend that removes every succeeded job at once deletes it with its end.
  const removing = t.store.defaultRetention.removeOnComplete?.count === 0;
  const now = Date.now();
  const parsed = completions.map((c) => parseDeliveryId(c.lease.deliveryId));
  // The statements share their parameters; completeDirect's results come last.
  const values: unknown[] = [
    now,
    parsed.map((p) => p.id),
    parsed.map((p) => p.dix),
    completions.map((c) => c.lease.workerId),
    completions.map((c) => c.lease.attempt),
    queue,
    minuteOf(now),
    t.stripe,
    t.store.channel,
  ];
  if (!removing) values.push(completions.map((c) => JSON.stringify(c.result ?? null)));
  const { rows } = await run<{ id: string; dix: number }>(t, removing ? 'completeRemoveDirect' : 'completeDirect', values);
  const done = new Set(rows.map((row) => `${row.id}.${row.dix}`));
  // Each completed row answers one completion: a second one of the same lease goes on, to be refused.
  const left = completions.filter((c) => !done.delete(c.lease.deliveryId));
  const pruneThroughput = rows.length > 0 && ++t.store.throughputWrites % 1_000 === 0;
  const step = rows.length > 0 && !removing ? t.store.retention.afterEnd(queue, 'completed', t.store.defaultRunOptions, rows.length) : null;
  const rule = step?.action === 'trim' ? step.rule : null;
  if (!rule && !pruneThroughput) return { left, upkeep: null };
  return {
    left,
    upkeep: async (u) => {
      if (rule) await trimEnded(u, queue, 'completed', rule, now);
      if (pruneThroughput) await run(u, 'trimThroughput', [now - THROUGHPUT_WINDOW_MS]);
    },
  };
}

/**
 * Fail, in one transaction. Reads: the row, locked (checking the lease, and whether a cancel was
 * asked). Writes: the row queued again at `retryAt` with the error (`retrying`; a rate-limited one
 * uncharged, its cap one higher, and its group held until `holdGroupUntil`), or ended failed or
 * cancelled with it and its end recorded (see {@link deliveryEnded}); an event of the outcome.
 * Returns the outcome; throws `LEASE_LOST` unless `lease` is current.
 */
export async function fail(t: PgTx, queue: string, lease: LeaseToken, request: FailRequest): Promise<'retrying' | 'failed' | 'cancelled'> {
  const now = Date.now();
  const { id, dix } = parseDeliveryId(lease.deliveryId);
  const row = await leased(t, queue, lease, id, dix);
  const outcome = failureOutcome(request, { cancelRequested: row.cancel_requested === true });
  const error = JSON.stringify(request.error);
  if (outcome === 'retrying') {
    await run(t, request.rateLimited ? 'requeueUncharged' : 'requeue', [id, dix, request.retryAt, error]);
    const holdUntil = request.rateLimited?.holdGroupUntil;
    if (holdUntil != null && row.grp !== null) await run(t, 'hold', [queue, row.grp, holdUntil]);
  } else await run(t, 'finishBad', [id, dix, STATE_CODE[outcome], now, error]);
  t.events.push({ type: outcome, queue, jobId: id, deliveryId: lease.deliveryId, route: row.route, workerId: lease.workerId, at: now });
  if (outcome !== 'retrying') {
    await deliveryEnded(t, { queue, jobId: id, deliveryId: lease.deliveryId, route: row.route, workerId: lease.workerId, fanout: row.fanout, options: row.options }, outcome, now);
  }
  return outcome;
}

/**
 * Progress, in one transaction. Reads: the row, locked (checking the lease). Writes: its progress,
 * and a `progress` event carrying it. Throws `LEASE_LOST` unless `lease` is current.
 */
export async function setProgress(t: PgTx, queue: string, lease: LeaseToken, progress: unknown): Promise<void> {
  const { id, dix } = parseDeliveryId(lease.deliveryId);
  const row = await leased(t, queue, lease, id, dix);
  const text = JSON.stringify(progress ?? null);
  await run(t, 'setProgress', [text, id, dix]);
  t.events.push({ type: 'progress', queue, jobId: id, deliveryId: lease.deliveryId, route: row.route, workerId: lease.workerId, at: Date.now(), data: JSON.parse(text) });
}

/**
 * Lease renewal, one statement. Writes: lease_until = now + `leaseMs` on each row still running under
 * its lease (the check is in the statement). Returns the leases renewed; a lost one is missing.
 */
export async function extendLease(t: PgTx, leases: LeaseToken[], leaseMs: number): Promise<LeaseToken[]> {
  const parsed = leases.map((lease) => parseDeliveryId(lease.deliveryId));
  const { rows } = await run<{ id: string; dix: number }>(t, 'extendMany', [
    Date.now() + leaseMs,
    parsed.map((p) => p.id),
    parsed.map((p) => p.dix),
    leases.map((lease) => lease.workerId),
    leases.map((lease) => lease.attempt),
  ]);
  const renewed = new Set(rows.map((row) => `${row.id}.${row.dix}`));
  return leases.filter((lease) => renewed.has(lease.deliveryId));
}

/** The row of `lease` in `queue`, locked, if `lease` is still its current lease; else throws `LEASE_LOST`. */
async function leased(t: PgTx, queue: string, lease: LeaseToken, id: string, dix: number): Promise<LeaseRow> {
  const row = (await run<LeaseRow>(t, 'leaseOf', [id, dix])).rows[0];
  const stored = row && row.queue === queue ? { state: STATE_NAME[row.state]!, workerId: row.worker_id, attempts: row.attempts } : null;
  if (!stored || !holdsLease(stored, lease)) throw leaseLost(queue, lease, stored);
  return row!;
}

/** Why a lease holder's write was refused: the row as stored now. */
async function refusal(t: PgTx, queue: string, lease: LeaseToken): Promise<Error> {
  const { id, dix } = parseDeliveryId(lease.deliveryId);
  try {
    await leased(t, queue, lease, id, dix);
  } catch (err) {
    // The lease's refusal is the answer; anything else (a statement that failed) fails the transaction.
    if (isSkqError(err) && err.code === 'LEASE_LOST') return err;
    throw err;
  }
  // The statement's check and holdsLease disagree: say so rather than report success.
  return leaseLost(queue, lease, null);
}
