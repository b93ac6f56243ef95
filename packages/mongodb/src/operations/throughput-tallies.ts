import { type LogMeta } from '@skq/core';
import { THROUGHPUT_WINDOW_MS, minuteOf } from '@skq/core/backend';
import type { Collections } from '../collections.js';

interface Tally {
  queue: string;
  route: string;
  minute: number;
  completed: number;
  failed: number;
}

/**
 * Counts of ended deliveries per queue, route and minute. They are gathered in memory and written
 * in one unordered bulk write per tick, best effort like the events: a failed write is warned
 * about and its counts are lost.
 */
export class ThroughputTallies {
  private tallies = new Map<string, Tally>();
  private flushTimer: NodeJS.Immediate | null = null;
  private writes: Promise<void> = Promise.resolve();
  /** Minute documents written since minutes out of the window were last deleted. */
  private written = 0;

  constructor(
    private readonly c: Collections,
    private readonly warn: (message: string, meta: LogMeta) => void,
  ) {}

  /** Counts one ended delivery in memory; the write follows at the end of the tick. */
  count(queue: string, route: string, outcome: 'succeeded' | 'failed', now: number): void {
    const minute = minuteOf(now);
    const key = `${queue}\u0000${minute}\u0000${route}`;
    let tally = this.tallies.get(key);
    if (!tally) this.tallies.set(key, (tally = { queue, route, minute, completed: 0, failed: 0 }));
    if (outcome === 'succeeded') tally.completed += 1;
    else tally.failed += 1;
    this.flushTimer ??= setImmediate(() => {
      this.flush().catch((err: unknown) => this.warn('mongodb: throughput counts were not recorded', { err }));
    });
  }

  /**
   * Writes the counts gathered so far, after any write already under way: a reader that flushes
   * first sees every count, and two upserts of one minute never race.
   *
   * Writes: one upsert per minute document (`$inc`, so writers in several processes add up); every
   * 1,000 of them, deletes the minute documents older than the throughput window.
   */
  flush(): Promise<void> {
    if (this.flushTimer) clearImmediate(this.flushTimer);
    this.flushTimer = null;
    const write = this.writes.then(() => this.write());
    this.writes = write.catch(() => undefined);
    return write;
  }

  private async write(): Promise<void> {
    const tallies = [...this.tallies.values()];
    this.tallies = new Map();
    if (tallies.length === 0) return;
    await this.c.throughput.bulkWrite(
      tallies.map((t) => ({
        updateOne: {
          filter: { _id: `${t.queue}\u0000${t.minute}\u0000${t.route}` },
          update: { $setOnInsert: { queue: t.queue, route: t.route, minute: t.minute }, $inc: { completed: t.completed, failed: t.failed } },
          upsert: true,
        },
      })),
      { ordered: false },
    );
    this.written += tallies.length;
    if (this.written >= 1_000) {
      this.written = 0;
      await this.c.throughput.deleteMany({ minute: { $lt: Date.now() - THROUGHPUT_WINDOW_MS } });
    }
  }
}
