// One delivery started by a claim, whichever way the claim chose it (in order, or by turns).
import { parseDeliveryId, unreadableJobError, type ClaimRequest, type ClaimedDelivery } from '@skq/core/backend';
import { VERSIONS_PER_MS, type QueueTransaction } from './queue-transaction.js';
import { toClaimed, type StoredDelivery } from './records.js';

/** Which of `of` active claimers of a route this one is (0-based, by worker id). */
export interface ClaimShare {
  index: number;
  of: number;
}

/**
 * Starts the delivery a ready key names. Reads: the delivery (the claim's only read conflict on
 * pending work: two claimers collide only when they choose the same delivery) and, at once, its
 * job, as a snapshot. Writes: the key cleared; the delivery running under a lease that ends at a
 * cluster version (holding `slot` of its group, when given), its lease key, counters and `started`
 * event. Returns it, or null: for a stale key (the delivery moved on, or waits under another key,
 * which is set again) or a job that cannot be read (the delivery then fails at once, with why).
 */
export async function startDelivery(qt: QueueTransaction, key: Buffer, deliveryId: string, request: ClaimRequest, version: number, slot: number | null = null): Promise<ClaimedDelivery | null> {
  const { workerId } = request;
  // The job is read with the delivery (its id is the delivery's, less the index): one round trip.
  const jobRead = qt.job(parseDeliveryId(deliveryId).id, true).then(
    (job) => ({ job }),
    (cause: unknown) => ({ job: null, cause }),
  );
  const [d, read] = await Promise.all([qt.delivery(deliveryId), jobRead]);
  if (!d || d.state !== 'queued' || d.runAt > qt.now || !qt.pendingKey(d, true).equals(key)) {
    qt.tr.clear(key);
    if (d?.state === 'queued') qt.addPending(d);
    return null;
  }
  if ('cause' in read) {
    // A stored job that cannot be read fails now, with why; the deliveries behind it still run.
    qt.tr.clear(key);
    failUnreadable(qt, d, workerId, read.cause);
    return null;
  }
  const { job } = read;
  if (!job) return null;
  qt.tr.clear(key);
  d.state = 'running';
  d.workerId = workerId;
  d.attempts += 1;
  d.startedAt = qt.now;
  d.cancelRequested = false;
  d.leaseUntil = qt.now + request.leaseMs;
  d.leaseVersion = version + request.leaseMs * VERSIONS_PER_MS;
  if (slot !== null && d.group !== undefined) {
    d.slot = slot;
    qt.tr.set(qt.keys.key('gs', d.group, slot), Buffer.from(d.id, 'utf8'));
  }
  qt.putDelivery(d);
  qt.tr.set(qt.leaseKey(d), Buffer.alloc(0));
  qt.count(d, 'queued', 'running');
  qt.event('started', d.jobId, d.id, d.route, workerId);
  return toClaimed(qt.queue, d, job, qt.now);
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
  qt.count(d, 'queued', 'failed');
  qt.throughput(d.route, 'failed');
  qt.event('failed', d.jobId, d.id, d.route, workerId);
}
