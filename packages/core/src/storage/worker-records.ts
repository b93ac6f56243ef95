import type { WorkerCommand, WorkerState } from './worker-commands.js';

// Workers' registrations as the storage contract stores them.

/**
 * A worker's registration.
 *
 * @example
 * ```ts
 * const busy = (await backend.listWorkers('demo')).filter((w: WorkerInfo) => w.state === 'running' && w.runningJobIds.length > 0);
 * ```
 */
export interface WorkerInfo {
  id: string;
  queue: string;
  routes: string[];
  hostname: string;
  pid: number;
  startedAt: number;
  lastSeenAt: number;
  /** The registration counts as gone after this instant unless a heartbeat renews it. */
  expiresAt: number;
  /** What the worker is doing, as its last heartbeat said. */
  state: WorkerState;
  /** The jobs it was running at its last heartbeat. */
  runningJobIds: string[];
  /** The last command sent to it, obeyed or not. */
  command: WorkerCommand | null;
}

/**
 * What {@link StorageBackend.registerWorker} stores: a worker's identity.
 *
 * @example
 * ```ts
 * const me: WorkerRegistration = { id: 'w1', queue: 'demo', routes: ['foo'], hostname: hostname(), pid: process.pid, startedAt: Date.now() };
 * await backend.registerWorker(me, 30_000); // gone after 30 s unless a heartbeat renews it
 * ```
 */
export type WorkerRegistration = Omit<WorkerInfo, 'lastSeenAt' | 'expiresAt' | 'state' | 'runningJobIds' | 'command'>;
