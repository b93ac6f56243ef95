import type { ScheduleRecord } from '@skq/core';
import type { ScheduleDefinition, ScheduleFiring, ScheduleSaveOutcome } from '@skq/core/backend';
import { enqueueJob } from './queue/enqueue-transactions.js';
import * as state from './queue/queue-state-transactions.js';
import type { TransactionRunner } from './transaction-runner.js';

/**
 * The backend's schedule operations: each is one transaction (see `queue/queue-state-transactions.ts`),
 * and each that writes runs with a marker, so a retry after commit_unknown_result returns the first
 * answer. Saving a schedule names its queue in the directory; firing enqueues the tick's job in the
 * same transaction that moves the schedule on.
 */
export class ScheduleOperations {
  constructor(private readonly runner: TransactionRunner) {}

  async save(queue: string, definition: ScheduleDefinition): Promise<ScheduleSaveOutcome> {
    const saved = await this.runner.marked('saveSchedule', queue, (qt) => {
      this.runner.addToDirectory(qt.tr, queue);
      return state.saveSchedule(qt, definition);
    });
    this.runner.listedAfterCommit([queue]);
    return saved;
  }

  list(queue: string): Promise<ScheduleRecord[]> {
    return this.runner.transact('listSchedules', queue, (tr) => state.listSchedules(this.runner.qt(tr, queue)));
  }

  setPaused(queue: string, id: string, paused: boolean): Promise<boolean> {
    return this.runner.marked('setSchedulePaused', queue, (qt) => state.setSchedulePaused(qt, id, paused));
  }

  remove(queue: string, id: string): Promise<boolean> {
    return this.runner.marked('removeSchedule', queue, (qt) => state.removeSchedule(qt, id));
  }

  fire(queue: string, id: string, version: number, firing: ScheduleFiring): Promise<boolean> {
    return this.runner.marked('fireSchedule', queue, (qt) =>
      state.fireSchedule(qt, id, version, firing, (job) => enqueueJob(qt, job, () => state.liveWorkers(qt))),
    );
  }

  advance(queue: string, id: string, version: number, next: { nextRunAt: number; state: Record<string, number> | null }): Promise<boolean> {
    return this.runner.marked('advanceSchedule', queue, (qt) => state.advanceSchedule(qt, id, version, next));
  }
}
