import { type LogLine } from '@skq/core';
import { jobIdOfDelivery, type CallRecord, type CallRecordQuery } from '@skq/core/backend';
import type { SqliteStore } from './store.js';

// Two append-only histories: the output lines of a job's deliveries, and the record of each call
// made through a queue.

/**
 * Append log lines, in one write transaction. Writes: one skq_logs row per line, under the job of
 * its delivery. Returns nothing. (The caller skips the transaction for no lines.)
 */
export function appendLogs(s: SqliteStore, lines: LogLine[]): void {
  for (const line of lines) {
    s.stmt.insertLog.run(jobIdOfDelivery(line.deliveryId), line.deliveryId, line.at, line.stream, line.line);
  }
}

/** A job's log, a plain read. Reads: the job's log lines. Returns them in the order written. */
export function getLogs(s: SqliteStore, jobId: string): LogLine[] {
  return (s.stmt.logsOf.all(jobId) as { delivery_id: string; at: number; stream: LogLine['stream']; line: string }[]).map((r) => ({
    deliveryId: r.delivery_id,
    at: r.at,
    stream: r.stream,
    line: r.line,
  }));
}

/** Append a call record, in one write transaction. Writes: one skq_call_records row holding the record as JSON. */
export function appendCallRecord(s: SqliteStore, queue: string, record: CallRecord): void {
  s.stmt.insertCallRecord.run(queue, record.name, record.at, JSON.stringify(record));
}

/** Call records, a plain read. Reads: up to `limit` of the queue's records, of one name when given. Returns them newest first. */
export function listCallRecords(s: SqliteStore, queue: string, query: CallRecordQuery): CallRecord[] {
  const rows = (query.name ? s.stmt.callRecordsNamed.all(queue, query.name, query.limit) : s.stmt.callRecords.all(queue, query.limit)) as { record: string }[];
  return rows.map((r) => JSON.parse(r.record) as CallRecord);
}
