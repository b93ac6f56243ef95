import { type LogLine } from '@skq/core';
import { jobIdOfDelivery, type LeaseToken } from '@skq/core/backend';
import { leaseLostError } from './job-endings.js';
import type { MongoStore } from './store.js';

/**
 * Stores captured output lines. Writes: one log document per line (`insertMany`, ordered), with its
 * job for lookup and a sequence number for order. `lines` must not be empty.
 */
export async function appendLogs(store: MongoStore, lines: LogLine[]): Promise<void> {
  await store.c.logs.insertMany(
    lines.map((l) => ({ jobId: jobIdOfDelivery(l.deliveryId), deliveryId: l.deliveryId, seq: store.nextSeq(), at: l.at, stream: l.stream, line: l.line })),
    { ordered: true },
  );
}

/** A job's output. Reads: its log documents, by sequence number. Returns the lines of all its deliveries in that order. */
export async function getLogs(store: MongoStore, jobId: string): Promise<LogLine[]> {
  return (await store.c.logs.find({ jobId }).sort({ seq: 1 }).toArray()).map((l) => ({ deliveryId: l.deliveryId, at: l.at, stream: l.stream, line: l.line }));
}

/**
 * Stores a running delivery's progress. Writes: the delivery's `progress` (JSON), a compare-and-set
 * on the lease, and a `progress` event. Throws when the lease is no longer held (see {@link leaseLostError}).
 */
export async function setProgress(store: MongoStore, queue: string, lease: LeaseToken, progress: unknown): Promise<void> {
  const row = await store.c.deliveries.findOneAndUpdate(
    { _id: lease.deliveryId, queue, state: 'running', workerId: lease.workerId, attempts: lease.attempt },
    { $set: { progress: JSON.stringify(progress ?? null) } },
  );
  if (!row) throw await leaseLostError(store, queue, lease);
  store.record([store.event(queue, 'progress', row.jobId, lease.deliveryId, row.route, lease.workerId, Date.now(), progress)]);
}
