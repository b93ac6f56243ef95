import type { JobEventType } from '@skq/core';
import type { JobEventListener } from '@skq/core/backend';
import { closedError } from './fdb-errors.js';
import { EventTail } from './queue/event-tail.js';
import type { TransactionRunner } from './transaction-runner.js';

/**
 * The backend's subscriptions: one {@link EventTail} per queue, shared by that queue's listeners,
 * started by the first and stopped when the last one leaves. Events are numbered in one sequence
 * across queues, in the order this process reads them.
 */
export class EventSubscriptions {
  private readonly tails = new Map<string, EventTail>();
  private seq = 0;

  constructor(private readonly runner: TransactionRunner) {}

  async subscribe(queue: string, listener: JobEventListener, types?: readonly JobEventType[]): Promise<() => Promise<void>> {
    if (this.runner.closed) throw closedError('subscribe', queue);
    let tail = this.tails.get(queue);
    if (!tail) {
      tail = new EventTail(this.runner.db, this.runner.keys(queue), () => (this.seq += 1), () => {});
      this.tails.set(queue, tail);
    }
    const remove = await tail.add(listener, types);
    return async () => {
      remove();
      if (tail.size === 0 && this.tails.get(queue) === tail) {
        this.tails.delete(queue);
        await tail.stop();
      }
    };
  }

  /** Stops every tail: no listener hears anything more. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.tails.values()].map((t) => t.stop()));
    this.tails.clear();
  }
}
