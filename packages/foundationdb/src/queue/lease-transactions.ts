// The transactions of a running attempt's lease: renewal, progress stored under it, and recovery of
// leases that expired or of broadcast deliveries whose worker is gone. Each body runs in the port's
// retry loop, so it may run more than once and must be idempotent.
import { expiredLeaseError, expiredLeaseOutcome, holdsLease, leaseLost, workerGoneError, type LeaseToken, type RetentionSchedule } from '@skq/core/backend';
import { unpack } from '../kv/tuple.js';
import { endDelivery } from './ending-transactions.js';
import { VERSIONS_PER_MS, type QueueTransaction } from './queue-transaction.js';

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

/** Progress. Reads: the delivery (fenced by the lease). Writes: its progress, a `progress` event. Returns nothing. */
export async function storeProgress(qt: QueueTransaction, lease: LeaseToken, progress: unknown): Promise<void> {
  const d = await qt.delivery(lease.deliveryId);
  if (!d || !holdsLease(d, lease)) throw leaseLost(qt.queue, lease, d);
  d.progress = progress ?? null;
  qt.putDelivery(d);
  qt.event('progress', d.jobId, d.id, d.route, lease.workerId, progress ?? null);
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
      qt.count(d, 'running', 'queued');
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
