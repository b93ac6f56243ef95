/** What a worker is doing: taking jobs, holding off (`pause`), or finishing before it exits. */
export type WorkerState = 'running' | 'paused' | 'stopping';

/** Orders a worker obeys: stop as on SIGTERM, stop as on SIGINT, hold off claiming, claim again. */
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

/** A command left on a worker's registration. */
export interface WorkerCommand {
  id: string;
  command: WorkerCommandName;
  sentAt: number;
  /** A worker that has not obeyed by then ignores it, and the sender reports it expired. */
  expiresAt: number;
  obeyedAt: number | null;
}

/** What a worker reports with each heartbeat. */
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
