import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { safeParseInput } from '../config.js';
import { SkqError, describeIssues } from '../errors.js';
import { timerMs } from '../delay.js';
import type { WorkerStorage } from '../storage/roles/worker-storage.js';
import { WORKER_COMMANDS, type WorkerCommand, type WorkerCommandName } from '../storage/worker-commands.js';

const CommandSchema = z.object({
  workerId: z.string().min(1),
  command: z.enum(WORKER_COMMANDS as [WorkerCommandName, ...WorkerCommandName[]]),
  /** How long the worker has to obey before the command expires. Default 10 s. */
  timeoutMs: timerMs(100).default(10_000),
});

/**
 * `{ timeoutMs? }` for `queue.commandWorker()`.
 *
 * @example
 * ```ts
 * const options: CommandOptions = { timeoutMs: 30_000 };
 * await queue.commandWorker(workerId, 'stop', options);
 * ```
 */
export interface CommandOptions {
  timeoutMs?: number;
}

/**
 * How a command ended: obeyed (with when), or, for a stop, the worker removed its registration as it exited.
 *
 * @example
 * ```ts
 * const done: CommandOutcome = await queue.commandWorker(workerId, 'pause');
 * if (done.outcome === 'obeyed') console.log('paused at', new Date(done.command.obeyedAt!));
 * ```
 */
export interface CommandOutcome {
  command: WorkerCommand;
  outcome: 'obeyed' | 'exited';
}

/** How often the sender reads the registration while it waits. */
const CHECK_EVERY_MS = 100;

/**
 * Leaves a command on a worker's registration and waits until the worker says it obeyed.
 * `WORKER_NOT_FOUND` when no live worker has the id; `COMMAND_EXPIRED` when it does not obey in time,
 * or its registration lapses first (it died), or it leaves without obeying a pause or resume.
 */
export async function commandWorker(backend: WorkerStorage, queue: string, workerId: string, command: WorkerCommandName, options: CommandOptions = {}): Promise<CommandOutcome> {
  const parsed = safeParseInput(CommandSchema, { workerId, command, ...options });
  if (!parsed.success) {
    throw new SkqError('ARGS_INVALID', `invalid worker command: ${describeIssues(parsed.error.issues)}`, { cause: parsed.error, context: { queue, workerId: String(workerId) } });
  }
  const now = Date.now();
  const sent: WorkerCommand = { id: randomUUID(), command: parsed.data.command, sentAt: now, expiresAt: now + parsed.data.timeoutMs, obeyedAt: null };
  if (!(await backend.sendWorkerCommand(queue, workerId, sent))) throw workerNotFound(queue, workerId);
  // When the registration last seen would lapse unless renewed; unseen, it was live when the command landed.
  let seenUntil = Number.POSITIVE_INFINITY;
  for (;;) {
    const worker = (await backend.listWorkers(queue)).find((w) => w.id === workerId);
    if (!worker) {
      // A worker that exits removes its registration at once; one that dies (SIGKILL, a lost host)
      // stops renewing it and it lapses. Only the first is a stop carried out.
      if (Date.now() >= seenUntil) {
        throw new SkqError('COMMAND_EXPIRED', `worker ${workerId} stopped renewing its registration, which expired before it obeyed "${sent.command}": it has died`, {
          context: { queue, workerId, commandId: sent.id },
        });
      }
      if (sent.command === 'stop' || sent.command === 'stop-rough') return { command: sent, outcome: 'exited' };
      throw new SkqError('COMMAND_EXPIRED', `worker ${workerId} went away before it obeyed "${sent.command}"`, { context: { queue, workerId, commandId: sent.id } });
    }
    seenUntil = worker.expiresAt;
    if (worker.command?.id === sent.id && worker.command.obeyedAt !== null) return { command: worker.command, outcome: 'obeyed' };
    if (worker.command?.id !== sent.id) {
      throw new SkqError('COMMAND_EXPIRED', `command "${sent.command}" to worker ${workerId} was replaced by a later one before it was obeyed`, { context: { queue, workerId, commandId: sent.id } });
    }
    if (Date.now() >= sent.expiresAt) {
      throw new SkqError('COMMAND_EXPIRED', `worker ${workerId} did not obey "${sent.command}" within ${parsed.data.timeoutMs} ms; it may have died, and its registration expires at ${new Date(worker.expiresAt).toISOString()}`, {
        context: { queue, workerId, commandId: sent.id },
      });
    }
    await new Promise((resolve) => setTimeout(resolve, CHECK_EVERY_MS));
  }
}

function workerNotFound(queue: string, workerId: string): SkqError {
  return new SkqError('WORKER_NOT_FOUND', `no live worker "${workerId}" in queue "${queue}" (see skunq workers list)`, { context: { queue, workerId } });
}
