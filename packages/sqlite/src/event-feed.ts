import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { JobEvent } from '@skq/core';
import type { JobEventListener } from '@skq/core/backend';

/** How often old events are deleted (by age and by count). */
const TRIM_EVERY_MS = 5_000;

interface Subscription {
  queue: string;
  types: readonly JobEvent['type'][] | null;
  listener: JobEventListener;
  lastSeq: number;
}

/** How the feed reads the changes: rows stamped with a change sequence, and notices. */
export interface EventSource {
  /** Whether another connection has committed since the last call (SQLite's `data_version`). */
  changedElsewhere(): boolean;
  maxSeq(): number;
  /**
   * A queue's events with `after < seq <= upTo`, oldest first; only those of `types` when given. At
   * most about `limit` of each source: `reached` is the seq read up to (`upTo` when all were read).
   */
  eventsBetween(queue: string, after: number, upTo: number, limit: number, types: readonly JobEvent['type'][] | null): { events: JobEvent[]; reached: number };
  trim(before: number): void;
}

/**
 * Delivers the changes to subscribers, across processes. A write by any process to the
 * database file is noticed through a directory watch (inotify) on the WAL file, so idle
 * workers wake in about a millisecond; a slow poll covers file systems without notices.
 */
export class EventFeed {
  private readonly subscriptions = new Set<Subscription>();
  private watcher: FSWatcher | null = null;
  private poller: NodeJS.Timeout | null = null;
  private pumpScheduled: NodeJS.Immediate | null = null;
  private lastTrim = 0;
  private closed = false;
  /** A subscriber may have events to read that no other connection wrote: a new one, or one behind at a commit. */
  private unread = true;

  constructor(
    private readonly source: EventSource,
    private readonly path: string,
    private readonly pollIntervalMs: number,
    private readonly retentionMs: number,
  ) {}

  subscribe(queue: string, listener: JobEventListener, types?: readonly JobEvent['type'][]): () => void {
    const subscription: Subscription = { queue, listener, types: types ? [...new Set(types)] : null, lastSeq: this.source.maxSeq() };
    this.subscriptions.add(subscription);
    this.unread = true;
    this.start();
    return () => {
      this.subscriptions.delete(subscription);
      if (this.subscriptions.size === 0) this.stop();
    };
  }

  /** Something was written: deliver new events soon, coalescing bursts into one read. */
  poke(): void {
    if (this.closed || this.pumpScheduled || this.subscriptions.size === 0) return;
    this.pumpScheduled = setImmediate(() => {
      this.pumpScheduled = null;
      if (!this.closed) this.pump();
    });
  }

  /**
   * This process committed `events`: every change of one transaction, in seq order, which began
   * after change `from` (the newest stored when it took the write lock). A subscriber that has seen
   * everything up to `from` gets them now, exact, without reading them back; any other reads them
   * (as the rows show them then) with the next pump, as do all subscribers the writes of other processes.
   */
  committed(events: readonly JobEvent[], from: number | null): void {
    const last = events[events.length - 1];
    if (last === undefined || from === null) return;
    let behind = false;
    for (const subscription of this.subscriptions) {
      if (subscription.lastSeq !== from) {
        behind = this.unread = true;
        continue;
      }
      subscription.lastSeq = last.seq;
      for (const event of events) {
        if (event.queue !== subscription.queue || (subscription.types && !subscription.types.includes(event.type))) continue;
        if (!this.subscriptions.has(subscription)) break;
        try {
          subscription.listener(event);
        } catch {
          // A listener's failure must not starve the other subscribers.
        }
      }
    }
    // Writes of other processes wake the watch (or the poll) on their own.
    if (behind) this.poke();
  }

  /** Stops delivering: cancels the pending read, the poll and the watch, before the database closes. */
  close(): void {
    this.closed = true;
    if (this.pumpScheduled) clearImmediate(this.pumpScheduled);
    this.pumpScheduled = null;
    this.subscriptions.clear();
    this.stop();
  }

  private pump(): void {
    // The watch and the poll fire for this process's own commits too, whose events went out at commit.
    const elsewhere = this.source.changedElsewhere();
    if (elsewhere || this.unread) this.read();
    const now = Date.now();
    if (now - this.lastTrim > TRIM_EVERY_MS) {
      this.lastTrim = now;
      this.source.trim(now - this.retentionMs);
    }
  }

  private read(): void {
    this.unread = false;
    // Read up to the newest event now: a subscriber then moves past other queues' events unread.
    const upTo = this.source.maxSeq();
    for (const subscription of this.subscriptions) {
      // The watch fires several times per commit, this process's own included: most pumps find nothing new.
      if (subscription.lastSeq >= upTo) continue;
      while (subscription.lastSeq < upTo && this.subscriptions.has(subscription)) {
        // The type filter runs in SQL: a busy worker's wake-up subscription then reads almost nothing.
        const { events, reached } = this.source.eventsBetween(subscription.queue, subscription.lastSeq, upTo, 500, subscription.types);
        for (const event of events) {
          subscription.lastSeq = event.seq;
          if (!this.subscriptions.has(subscription)) break;
          try {
            subscription.listener(event);
          } catch {
            // A listener's failure must not starve the other subscribers.
          }
        }
        subscription.lastSeq = Math.max(subscription.lastSeq, reached);
      }
    }
  }

  private start(): void {
    if (this.poller) return;
    this.poller = setInterval(() => this.poke(), this.pollIntervalMs);
    this.poller.unref();
    if (this.path === ':memory:') return;
    const file = basename(this.path);
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, (_type, changed) => {
        if (changed === null || String(changed).startsWith(file)) this.poke();
      });
      this.watcher.on('error', () => this.stopWatching());
    } catch {
      this.watcher = null; // The poll still delivers, only slower.
    }
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = null;
  }

  private stop(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
    this.stopWatching();
  }
}
