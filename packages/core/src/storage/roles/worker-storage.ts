import type { WorkerInfo, WorkerRegistration } from '../contract.js';
import type { WorkerCommand, WorkerStatus } from '../worker-commands.js';

/**
 * Workers and their commands: registration with a time to live, heartbeats, and commands left for a worker.
 * A registration that is not renewed expires; an expired worker's broadcast deliveries end with `WORKER_GONE`.
 *
 * @example
 * ```ts
 * const live = await backend.listWorkers('demo');
 * ```
 */
export interface WorkerStorage {
  /** Registers (or re-registers) a worker, alive for `ttlMs` unless renewed, in state `running`. */
  registerWorker(info: WorkerRegistration, ttlMs: number): Promise<void>;

  /**
   * Renews a worker's registration with its status; marks the command `status.obeyedCommandId` names
   * obeyed. Returns the registration, whose `command` may be new, or null if it had expired.
   */
  heartbeat(queue: string, workerId: string, ttlMs: number, status: WorkerStatus): Promise<WorkerInfo | null>;

  /**
   * Leaves a command on a live worker's registration (replacing an earlier one) and publishes a
   * `worker-command` event naming the worker. Returns false if no live worker has that id.
   */
  sendWorkerCommand(queue: string, workerId: string, command: WorkerCommand): Promise<boolean>;

  /** Removes a worker's registration. */
  unregisterWorker(queue: string, workerId: string): Promise<void>;

  /** Workers of a queue whose registration has not expired. */
  listWorkers(queue: string): Promise<WorkerInfo[]>;
}
