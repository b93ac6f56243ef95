import { type JobEventType, type LogMeta, type Logger } from '@skq/core';
import { RetentionSchedule } from '@skq/core/backend';
import type { Collections } from '../collections.js';
import { SequenceClock, type EventDoc } from '../documents.js';
import { EventRecorder } from './event-recorder.js';
import { ThroughputTallies } from './throughput-tallies.js';

/**
 * What every operation works on: the collections of the current client and this process's state
 * shared between operations (sequence numbers, buffered events, throughput counts, retention).
 *
 * `c` is the connection's collections object, updated in place when a client that keeps failing
 * server selection is replaced: operations read a collection from it at each use and never keep one.
 */
export class MongoStore {
  /** Counts ended jobs per queue and kind, so a trim runs every so many endings, not on each. */
  readonly retention = new RetentionSchedule();
  readonly tallies: ThroughputTallies;
  private readonly clock = new SequenceClock();
  /** Routes this process has marked as having grouped jobs (see `markGroupedRoutes`): marks are never taken away. */
  readonly markedRoutes = new Set<string>();
  private readonly events: EventRecorder;
  private lastWarning = 0;

  /**
   * @param poke wakes the event feed once recorded events are stored.
   * @param groups the store keeps groups (`capabilities.groups`): claims read limits and take turns.
   */
  constructor(
    readonly c: Collections,
    poke: () => void,
    private readonly logger: Logger | false,
    readonly groups: boolean,
  ) {
    const warn = (message: string, meta: LogMeta) => this.warn(message, meta);
    this.events = new EventRecorder(c, poke, warn);
    this.tallies = new ThroughputTallies(c, warn);
  }

  /** A sequence number for an event, a log line, a call record or an enqueue (see {@link SequenceClock}). */
  nextSeq(): number {
    return this.clock.next();
  }

  /** A lifecycle event, numbered now; {@link record} stores it. */
  event(queue: string, type: JobEventType, jobId: string | null, delivery: string | null, route: string | null, workerId: string | null, at: number, data?: unknown): EventDoc {
    return { seq: this.clock.next(), type, queue, jobId, deliveryId: delivery, route, workerId, at, ...(data !== undefined && { data }) };
  }

  /** Stores events without holding up the step that caused them (see {@link EventRecorder}). */
  record(events: EventDoc[]): void {
    this.events.record(events);
  }

  /** At most one warning a minute: a server that is away would otherwise flood the log. */
  warn(message: string, meta: LogMeta): void {
    if (this.logger === false || Date.now() - this.lastWarning < 60_000) return;
    this.lastWarning = Date.now();
    this.logger.warn(meta, message);
  }

  /**
   * Stops recording events at once (the backend is closing), then writes the throughput counts and
   * the events recorded before. A failed count write is warned about; close goes on.
   */
  async close(): Promise<void> {
    this.events.stop();
    await this.tallies.flush().catch((err: unknown) => this.warn('mongodb: throughput counts were not recorded', { err }));
    await this.events.flush();
  }
}
