import type { Statement } from 'better-sqlite3';
import type { JobEvent } from '@skq/core';
import type { EventSource } from '../event-feed.js';
import { changeToEvent, noticeToEvent, type ChangedRow, type NoticeRow } from '../rows.js';
import { ROW_EVENT_CODE, type RowEvent } from '../schema.js';
import { nextSeq, type SqliteStore } from './store.js';

/**
 * A row's change, for this process's subscribers. Reads and writes nothing: the row itself carries
 * the change (its `seq` and `ev`), where other processes read it; this keeps the event, exact, in
 * `s.recorded` until the transaction commits.
 */
export function rowChanged(
  s: SqliteStore,
  seq: number,
  queue: string,
  type: JobEvent['type'],
  jobId: string,
  deliveryId: string | null,
  route: string | null,
  workerId: string | null,
  at: number,
): void {
  s.recorded.push({ seq, type, queue, jobId, deliveryId, route, workerId, at });
}

/**
 * Appends a notice: an event no row stands for. Reads: nothing. Writes: a skq_events row under the
 * next change sequence. Runs in the write of the step it records, so it commits or rolls back with
 * that step; kept in `s.recorded` too.
 */
export function recordNotice(
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
  const seq = nextSeq(s);
  const json = data === undefined ? null : JSON.stringify(data);
  s.stmt.insertNotice.run(seq, queue, type, jobId ?? '', delivery, route, workerId, at, json);
  s.recorded.push({ seq, type, queue, jobId: jobId || null, deliveryId: delivery, route, workerId, at, ...(json !== null && { data: JSON.parse(json) }) });
}

const ROW_EVENTS = new Set<string>(Object.keys(ROW_EVENT_CODE));

/**
 * The changes as the {@link EventFeed} reads them, outside the write transactions:
 * - `changedElsewhere` reads `PRAGMA data_version`, which moves only when another connection commits;
 * - `maxSeq` reads the newest change sequence (0 when there is none), of rows and of notices;
 * - `eventsBetween` reads a queue's rows changed and notices written with `after < seq <= upTo`,
 *   merged in seq order (a row changed twice shows its last change); with `types`, the filter runs
 *   in SQL. A source whose newest sequence at the last `maxSeq` was not past `after` is not read:
 *   no change can join it below a sequence already taken (a wake-up after another process's
 *   commit reads cold pages, a few microseconds each). When either source holds more than `limit`,
 *   it stops at the last seq both have read;
 * - `trim` deletes the notices older than `before` and those beyond the newest `keepCount`.
 */
export function eventSource(s: SqliteStore, keepCount: number): EventSource {
  let dataVersion = -1;
  // The newest sequences at the last maxSeq: a row or notice below them can leave, never arrive.
  let newest = { rows: Infinity, notices: Infinity };
  return {
    changedElsewhere: () => {
      const now = (s.stmt.dataVersion.get() as { data_version: number }).data_version;
      const changed = now !== dataVersion;
      dataVersion = now;
      return changed;
    },
    maxSeq: () => {
      newest = s.stmt.newestSeqs.get() as { rows: number; notices: number };
      return Math.max(newest.rows, newest.notices);
    },
    eventsBetween: (queue, after, upTo, limit, types) => {
      const rowTypes = types ? types.filter((t) => ROW_EVENTS.has(t)).map((t) => ROW_EVENT_CODE[t as RowEvent]) : null;
      // A job with no delivery is a row that stands for its `cancelled` end (ev 4).
      const noticeTypes = types ? types.filter((t) => !ROW_EVENTS.has(t)) : null;
      // One source: nothing if it has nothing past `after`, all of it, or only the wanted types (none wanted: nothing).
      const read = (newestSeq: number, wanted: unknown[] | null, all: Statement, ofTypes: Statement): unknown[] => {
        if (newestSeq <= after || wanted?.length === 0) return [];
        return wanted === null ? all.all(after, upTo, queue, limit) : ofTypes.all(after, upTo, queue, JSON.stringify(wanted), limit);
      };
      const rows = read(newest.rows, rowTypes, s.stmt.changedRows, s.stmt.changedRowsOfTypes) as ChangedRow[];
      const notices = read(newest.notices, noticeTypes, s.stmt.noticesBetween, s.stmt.noticesOfTypesBetween) as NoticeRow[];
      let reached = upTo;
      if (rows.length === limit) reached = Math.min(reached, rows[rows.length - 1]!.seq);
      if (notices.length === limit) reached = Math.min(reached, notices[notices.length - 1]!.seq);
      const events = [...rows.map(changeToEvent), ...notices.map(noticeToEvent)].filter((e) => e.seq <= reached);
      events.sort((a, b) => a.seq - b.seq);
      return { events, reached };
    },
    trim: (before) => s.stmt.trimNotices.run({ before, keep: keepCount }),
  };
}
