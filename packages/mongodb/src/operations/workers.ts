import type { WorkerInfo } from '@skq/core';
import type { WorkerCommand, WorkerRegistration, WorkerStatus } from '@skq/core/backend';
import { toWorker } from '../documents.js';
import type { MongoStore } from './store.js';

/**
 * Registers a worker, or renews a registration. Writes: the worker's document, upserted: routes,
 * liveness and state always; queue, host, pid, start time and an empty command only when inserted,
 * so re-registering keeps the command sent to it.
 */
export async function registerWorker(store: MongoStore, info: WorkerRegistration, ttlMs: number): Promise<void> {
  const now = Date.now();
  await store.c.workers.updateOne(
    { _id: info.id },
    {
      $set: { routes: info.routes, lastSeenAt: now, expiresAt: now + ttlMs, state: 'running' },
      $setOnInsert: { queue: info.queue, hostname: info.hostname, pid: info.pid, startedAt: info.startedAt, runningJobIds: [], command: null },
    },
    { upsert: true },
  );
}

/**
 * Heartbeat. Writes: the live worker's document (liveness, state, running jobs), and marks its
 * command obeyed when `status` reports that command obeyed (a compare-and-set on the command id, so
 * a newer command is never marked). Returns the worker as stored, or null when its registration
 * expired or is gone: it must register again.
 */
export async function heartbeat(store: MongoStore, queue: string, workerId: string, ttlMs: number, status: WorkerStatus): Promise<WorkerInfo | null> {
  const now = Date.now();
  const doc = await store.c.workers.findOneAndUpdate(
    { _id: workerId, queue, expiresAt: { $gte: now } },
    { $set: { lastSeenAt: now, expiresAt: now + ttlMs, state: status.state, runningJobIds: status.runningJobIds } },
    { returnDocument: 'after' },
  );
  if (!doc) return null;
  const command = doc.command ?? null;
  if (command && command.id === status.obeyedCommandId && command.obeyedAt === null) {
    await store.c.workers.updateOne({ _id: workerId, 'command.id': command.id }, { $set: { 'command.obeyedAt': now } });
    command.obeyedAt = now;
  }
  return toWorker({ ...doc, command });
}

/**
 * Sends a command to a live worker; its next heartbeat reads it. Writes: the worker's `command`
 * (replacing any earlier one) and a `worker-command` event. Returns false when no live worker has that id.
 */
export async function sendWorkerCommand(store: MongoStore, queue: string, workerId: string, command: WorkerCommand): Promise<boolean> {
  const now = Date.now();
  const sent = await store.c.workers.updateOne({ _id: workerId, queue, expiresAt: { $gte: now } }, { $set: { command } });
  if (sent.matchedCount !== 1) return false;
  store.record([store.event(queue, 'worker-command', null, null, null, workerId, now, command.id)]);
  return true;
}

/** Unregisters a worker. Writes: deletes its document (nothing if it is gone already). */
export async function unregisterWorker(store: MongoStore, workerId: string): Promise<void> {
  await store.c.workers.deleteOne({ _id: workerId });
}

/** Live workers. Reads: the queue's worker documents not expired at `now`. Returns them by start time, then id. */
export async function liveWorkers(store: MongoStore, queue: string, now: number): Promise<WorkerInfo[]> {
  return (await store.c.workers.find({ queue, expiresAt: { $gte: now } }).sort({ startedAt: 1, _id: 1 }).toArray()).map(toWorker);
}
