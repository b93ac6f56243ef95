import type { WorkerInfo } from '@skq/core';
import type { WorkerCommand, WorkerRegistration, WorkerStatus } from '@skq/core/backend';
import { toWorker, type WorkerRow } from '../rows.js';
import { recordNotice } from './events.js';
import type { SqliteStore } from './store.js';

// Worker registrations: one skq_workers row each, alive until its expires_at. A command to a
// worker is stored on its row and handed over by its next heartbeat.

/**
 * Register, in one write transaction. Writes: the worker's row, inserted or refreshed (routes,
 * last seen, expiry `now + ttlMs`, state running). Returns nothing.
 */
export function registerWorker(s: SqliteStore, info: WorkerRegistration, ttlMs: number): void {
  const now = Date.now();
  s.stmt.upsertWorker.run({ ...info, routes: JSON.stringify(info.routes), started_at: info.startedAt, now, expires_at: now + ttlMs });
}

/**
 * Heartbeat, in one write transaction. Reads: the worker's live row in `queue`. Writes: its last
 * seen, expiry, state and running jobs; its command marked obeyed when `status` says it obeyed it.
 * Returns the worker as now stored, or null when it has no live registration.
 */
export function heartbeat(s: SqliteStore, queue: string, workerId: string, ttlMs: number, status: WorkerStatus): WorkerInfo | null {
  const now = Date.now();
  const row = s.stmt.liveWorker.get(workerId, queue, now) as WorkerRow | undefined;
  if (!row) return null;
  const worker = toWorker(row);
  let command = worker.command;
  if (command && command.id === status.obeyedCommandId && command.obeyedAt === null) command = { ...command, obeyedAt: now };
  s.stmt.heartbeat.run({
    id: workerId,
    now,
    expires_at: now + ttlMs,
    state: status.state,
    running: JSON.stringify(status.runningJobIds),
    command: command ? JSON.stringify(command) : null,
  });
  return { ...worker, lastSeenAt: now, expiresAt: now + ttlMs, state: status.state, runningJobIds: status.runningJobIds, command };
}

/**
 * Send a command, in one write transaction. Writes: the command on the worker's row, if it is live
 * in `queue`, replacing any earlier one; then a `worker-command` event carrying the command's id.
 * Returns whether the worker was live.
 */
export function sendWorkerCommand(s: SqliteStore, queue: string, workerId: string, command: WorkerCommand): boolean {
  const now = Date.now();
  if (s.stmt.setCommand.run(JSON.stringify(command), workerId, queue, now).changes !== 1) return false;
  recordNotice(s, queue, 'worker-command', null, null, null, workerId, now, command.id);
  return true;
}

/** Unregister, in one write transaction. Writes: the worker's row, deleted. Returns nothing. */
export function unregisterWorker(s: SqliteStore, workerId: string): void {
  s.stmt.deleteWorker.run(workerId);
}

/**
 * The live workers of a queue, as a plain read or inside a write (a broadcast's enqueue). Reads:
 * the workers whose registration has not expired at `now`. Returns them by start time, then id.
 */
export function liveWorkers(s: SqliteStore, queue: string, now: number): WorkerInfo[] {
  return (s.stmt.liveWorkers.all(queue, now) as WorkerRow[]).map(toWorker);
}
