import { type LogLine } from '@skq/core';
import { jobIdOfDelivery, type CallRecord, type CallRecordQuery } from '@skq/core/backend';
import { textOf } from '../rows.js';
import { run, type PgTx } from '../store.js';

// Two append-only histories: the output lines of a job's deliveries, and the record of each call
// made through a queue.

/** Append log lines, in one statement (all or none). Writes: one logs row per line, under the job of its delivery (a NUL character as U+FFFD). */
export async function appendLogs(t: PgTx, lines: LogLine[]): Promise<void> {
  await run(t, 'insertLogs', [
    lines.map((l) => jobIdOfDelivery(l.deliveryId)),
    lines.map((l) => l.deliveryId),
    lines.map((l) => l.at),
    lines.map((l) => l.stream),
    // PostgreSQL text holds no NUL character: a line stores it as U+FFFD.
    lines.map((l) => textOf(l.line)),
  ]);
}

/** A job's log. Reads: the job's log lines. Returns them in the order written. */
export async function getLogs(t: PgTx, jobId: string): Promise<LogLine[]> {
  const { rows } = await run<{ delivery_id: string; at: number; stream: LogLine['stream']; line: string }>(t, 'logsOf', [jobId]);
  return rows.map((r) => ({ deliveryId: r.delivery_id, at: r.at, stream: r.stream, line: r.line }));
}

/** Append a call record. Writes: one call_records row holding the record as JSON. */
export async function appendCallRecord(t: PgTx, queue: string, record: CallRecord): Promise<void> {
  await run(t, 'insertCallRecord', [queue, record.name, record.at, JSON.stringify(record)]);
}

/** Call records. Reads: up to `limit` of the queue's records, of one name when given. Returns them newest first. */
export async function listCallRecords(t: PgTx, queue: string, query: CallRecordQuery): Promise<CallRecord[]> {
  const { rows } = query.name
    ? await run<{ record: string }>(t, 'callRecordsNamed', [queue, query.name, query.limit])
    : await run<{ record: string }>(t, 'callRecords', [queue, query.limit]);
  return rows.map((r) => JSON.parse(r.record) as CallRecord);
}
