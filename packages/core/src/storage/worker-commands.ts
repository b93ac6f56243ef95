/**
 * What a worker is doing: taking jobs, holding off (`pause`), or finishing before it exits.
 *
 * @example
 * ```ts
 * const state: WorkerState = stopping ? 'stopping' : paused ? 'paused' : 'running'; // reported with each heartbeat
 * ```
 */
export type WorkerState = 'running' | 'paused' | 'stopping';

/**
 * Orders a worker obeys: stop as on SIGTERM, stop as on SIGINT, hold off claiming, claim again.
 *
 * @example
 * ```ts
 * const command: WorkerCommandName = 'stop'; // stop as on SIGTERM
 * const { outcome } = await queue.commandWorker('w1', command); // 'obeyed' or 'exited'
 * ```
 */
export type WorkerCommandName = 'stop' | 'stop-rough' | 'pause' | 'resume';

/**
 * The commands, in a stable order.
 *
 * @example
 * ```ts
 * if (!WORKER_COMMANDS.includes(word as WorkerCommandName)) throw new Error(`unknown command ${word}`);
 * ```
 */
export const WORKER_COMMANDS: readonly WorkerCommandName[] = ['stop', 'stop-rough', 'pause', 'resume'];

/**
 * A command left on a worker's registration.
 *
 * @example
 * ```ts
 * const command: WorkerCommand = { id: randomUUID(), command: 'pause', sentAt: Date.now(), expiresAt: Date.now() + 10_000, obeyedAt: null };
 * await backend.sendWorkerCommand('demo', 'w1', command); // false when no live worker is w1
 * ```
 */
export interface WorkerCommand {
  id: string;
  command: WorkerCommandName;
  sentAt: number;
  /** A worker that has not obeyed by then ignores it, and the sender reports it expired. */
  expiresAt: number;
  obeyedAt: number | null;
}

/**
 * What a worker reports with each heartbeat.
 *
 * @example
 * ```ts
 * const status: WorkerStatus = { state: 'paused', runningJobIds: [], obeyedCommandId: command.id }; // has just obeyed a pause
 * const info = await backend.heartbeat('demo', 'w1', 30_000, status); // null when the registration had expired
 * ```
 */
export interface WorkerStatus {
  state: WorkerState;
  runningJobIds: string[];
  /** The id of the command it has just obeyed, or null. */
  obeyedCommandId: string | null;
}

/**
 * The command a worker should obey now: its registration's command, if not obeyed and not expired.
 *
 * @example
 * ```ts
 * const command = pendingCommand(info, Date.now());
 * if (command) obey(command);
 * ```
 */
export function pendingCommand(info: { command: WorkerCommand | null }, now: number): WorkerCommand | null {
  const { command } = info;
  return command && command.obeyedAt === null && command.expiresAt > now ? command : null;
}
