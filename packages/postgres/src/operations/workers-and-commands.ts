import type { WorkerInfo } from '@skq/core';
import type { WorkerCommand, WorkerRegistration, WorkerStatus } from '@skq/core/backend';
import { toWorker, type WorkerRow } from '../rows.js';
import { run, type PgTx } from '../store.js';

// Worker registrations: one workers row each, alive until its expires_at. A command to a worker is
// stored on its row and handed over by its next heartbeat.

/** Register. Writes: the worker's row, inserted or refreshed (routes, last seen, expiry `now + ttlMs`, state running). */
export async function registerWorker(t: PgTx, info: WorkerRegistration, ttlMs: number): Promise<void> {
  const now = Date.now();
  await run(t, 'upsertWorker', [info.id, info.queue, JSON.stringify(info.routes), info.hostname, info.pid, info.startedAt, now, now + ttlMs]);
}

/**
 * Heartbeat, in one transaction. Reads: the worker's live row in `queue`, locked. Writes: its last
 * seen, expiry, state and running jobs; its command marked obeyed when `status` says it obeyed it.
 * Returns the worker as now stored, or null when it has no live registration.
 */
export async function heartbeat(t: PgTx, queue: string, workerId: string, ttlMs: number, status: WorkerStatus): Promise<WorkerInfo | null> {
  const now = Date.now();
  const row = (await run<WorkerRow>(t, 'liveWorker', [workerId, queue, now])).rows[0];
  if (!row) return null;
  const worker = toWorker(row);
  let command = worker.command;
  if (command && command.id === status.obeyedCommandId && command.obeyedAt === null) command = { ...command, obeyedAt: now };
  await run(t, 'heartbeat', [workerId, now, now + ttlMs, status.state, JSON.stringify(status.runningJobIds), command ? JSON.stringify(command) : null]);
  return { ...worker, lastSeenAt: now, expiresAt: now + ttlMs, state: status.state, runningJobIds: status.runningJobIds, command };
}

/**
 * Send a command, in one transaction. Writes: the command on the worker's row, if it is live in
 * `queue`, replacing any earlier one; then a `worker-command` event carrying the command's id.
 * Returns whether the worker was live.
 */
export async function sendWorkerCommand(t: PgTx, queue: string, workerId: string, command: WorkerCommand): Promise<boolean> {
  const now = Date.now();
  if ((await run(t, 'setCommand', [JSON.stringify(command), workerId, queue, now])).rowCount !== 1) return false;
  t.events.push({ type: 'worker-command', queue, jobId: null, deliveryId: null, route: null, workerId, at: now, data: command.id });
  return true;
}

/** Unregister. Writes: the worker's row, deleted. */
export async function unregisterWorker(t: PgTx, workerId: string): Promise<void> {
  await run(t, 'deleteWorker', [workerId]);
}

/** The live workers of a queue (a read, or inside a broadcast's enqueue). Returns them by start time, then id. */
export async function liveWorkers(t: PgTx, queue: string, now: number): Promise<WorkerInfo[]> {
  return (await run<WorkerRow>(t, 'liveWorkers', [queue, now])).rows.map(toWorker);
}
