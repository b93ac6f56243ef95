// The enqueue transaction. Its body runs in the port's retry loop, so it may run more than once
// and must be idempotent: a rerun finds the job stored by id.
import { type WorkerInfo } from '@skq/core';
import { TERMINAL_STATES, deliveryId, newDelivery, planDeliveries, type EnqueueResult, type NewJob } from '@skq/core/backend';
import type { QueueTransaction } from './queue-transaction.js';
import type { StoredDelivery, StoredJob } from './records.js';

/** A per-process enqueue order: time-based, so processes roughly agree, and strictly growing here. */
let lastSeq = 0;
function nextSeq(): number {
  lastSeq = Math.max(lastSeq + 1, Date.now() * 1_000);
  return lastSeq;
}

/**
 * Enqueue. Reads: the job's key (a stored id is answered as stored), the dedupe key and its
 * holder's deliveries, the live workers of a broadcast. Writes: the job and its deliveries (with
 * their group, if any), their pending keys and counters (a group's too), the listing key, the
 * dedupe key, `enqueued` events. Returns the contract's result. Idempotent: a rerun finds the job stored.
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
    ...(job.group != null && { group: job.group }),
    deliveryIds: targets.map((_, i) => deliveryId(job.id, i)),
    endedKind: null,
    endedAt: null,
  };
  targets.forEach((target, i) => {
    const d: StoredDelivery = { ...newDelivery(job, target, i), seq: nextSeq(), leaseVersion: null, lastEnd: null, ...(job.group != null && { group: job.group }) };
    qt.putDelivery(d);
    qt.addPending(d);
    qt.count(d, null, 'queued');
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
