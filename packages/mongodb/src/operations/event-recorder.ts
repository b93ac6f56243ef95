import type { LogMeta } from '@skq/core';
import type { Collections } from '../collections.js';
import type { EventDoc } from '../documents.js';

/**
 * Writes lifecycle events without holding up the step that caused them: they are batched per tick
 * and written in order, one insert at a time. Events are best effort (see the backend's
 * `subscribe`): a batch whose insert fails is warned about and dropped; callers that need an
 * outcome read the job's state.
 *
 * Reads: nothing. Writes: the events collection (`insertMany`, ordered), then pokes the event feed
 * so a polling subscriber reads them at once.
 */
export class EventRecorder {
  private buffer: EventDoc[] = [];
  private writes: Promise<void> = Promise.resolve();
  private flushScheduled = false;
  private stopped = false;

  constructor(
    private readonly c: Collections,
    private readonly poke: () => void,
    private readonly warn: (message: string, meta: LogMeta) => void,
  ) {}

  /** Buffers `events` for the write at the end of this tick; nothing once stopped. */
  record(events: EventDoc[]): void {
    // After stop nothing is written: the close that stopped it flushes what was recorded before.
    if (events.length === 0 || this.stopped) return;
    this.buffer.push(...events);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Refuses further events; what is buffered is still written by {@link flush}. */
  stop(): void {
    this.stopped = true;
  }

  /** Writes the buffered events after the writes already under way; resolves when all are done. */
  flush(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.buffer;
    this.buffer = [];
    if (batch.length === 0) return this.writes;
    this.writes = this.writes.then(() =>
      this.c.events.insertMany(batch, { ordered: true }).then(
        () => this.poke(),
        (err: unknown) => this.warn(`mongodb: ${batch.length} lifecycle events were not recorded`, { queues: [...new Set(batch.map((e) => e.queue))], err }),
      ),
    );
    return this.writes;
  }
}
