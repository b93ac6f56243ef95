import type { JobEvent } from '@skq/core';
import type { EventSource } from '../event-feed.js';
import { toEvent, type EventRow } from '../rows.js';
import type { SqliteStore } from './store.js';

/**
 * Appends one lifecycle event. Reads: nothing. Writes: a skq_events row, its seq the next rowid.
 * Runs in the write of the step it records, so the event commits or rolls back with that step; it is
 * also kept in `s.recorded` until the transaction ends.
 */
export function recordEvent(
  s: SqliteStore,
  queue: string,
  type: JobEvent['type'],
  jobId: string | null,
  delivery: string | null,
  route: string | null,
  workerId: string | null,
  at: number,
  data?: unknown,
): void {
  const json = data === undefined ? null : JSON.stringify(data);
  const { lastInsertRowid } = s.stmt.insertEvent.run(queue, type, jobId ?? '', delivery, route, workerId, at, json);
  // As the feed would read it back (toEvent), so this process's subscribers get it without the read.
  s.recorded.push({ seq: Number(lastInsertRowid), type, queue, jobId: jobId || null, deliveryId: delivery, route, workerId, at, ...(json !== null && { data: JSON.parse(json) }) });
}

/**
 * The events table as the {@link EventFeed} reads it, outside the write transactions:
 * - `changedElsewhere` reads `PRAGMA data_version`, which moves only when another connection commits;
 * - `maxSeq` reads the newest seq (0 when there is none);
 * - `eventsBetween` reads a queue's events with `after < seq <= upTo`, oldest first, at most
 *   `limit`; with `types`, the filter runs in SQL so unwanted events are never parsed;
 * - `trim` deletes the events older than `before` and those beyond the newest `keepCount`, but never
 *   the newest event, so a new seq is always above every seq handed out before.
 */
export function eventSource(s: SqliteStore, keepCount: number): EventSource {
  let dataVersion = -1;
  return {
    changedElsewhere: () => {
      const now = (s.stmt.dataVersion.get() as { data_version: number }).data_version;
      const changed = now !== dataVersion;
      dataVersion = now;
      return changed;
    },
    maxSeq: () => (s.stmt.maxSeq.get() as { seq: number | null }).seq ?? 0,
    eventsBetween: (queue, after, upTo, limit, types) =>
      ((types ? s.stmt.eventsOfTypesBetween.all(after, upTo, queue, JSON.stringify(types), limit) : s.stmt.eventsBetween.all(after, upTo, queue, limit)) as EventRow[]).map(toEvent),
    trim: (before) => s.stmt.trimEvents.run({ before, keep: keepCount }),
  };
}
