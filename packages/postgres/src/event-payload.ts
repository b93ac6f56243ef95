import type { JobEvent } from '@skq/core';

/**
 * NOTIFY payloads hold under 8,000 bytes: a transaction's events go as parts of at most this many,
 * one line per event.
 */
const PART_BYTES = 7_600;
/** An event's seq is its transaction's batch number times this, plus its place in the transaction. */
const PER_BATCH = 1_000_000;

type EventLine = [index: number, type: JobEvent['type'], queue: string, jobId: string | null, deliveryId: string | null, route: string | null, workerId: string | null, at: number, data?: unknown];

/**
 * A transaction's events as NOTIFY payload parts: lines of JSON arrays, each event numbered by its
 * place. An event too large for one part (a large progress value) goes without its data; the
 * listener reads the value from the job if it needs it.
 *
 * @example
 * ```ts
 * encodeEvents([{ type: 'enqueued', queue: 'q', jobId: 'j', deliveryId: 'j.0', route: 'r', workerId: null, at: 1 }]);
 * // ['[0,"enqueued","q","j","j.0","r",null,1]']
 * ```
 */
export function encodeEvents(events: readonly Omit<JobEvent, 'seq'>[]): string[] {
  const parts: string[] = [];
  let lines: string[] = [];
  let bytes = 0;
  events.forEach((event, index) => {
    const fields: EventLine = [index, event.type, event.queue, event.jobId, event.deliveryId, event.route, event.workerId, event.at];
    let line = JSON.stringify(event.data === undefined ? fields : [...fields, event.data]);
    if (Buffer.byteLength(line) > PART_BYTES) line = JSON.stringify(fields);
    const size = Buffer.byteLength(line) + 1;
    if (bytes + size > PART_BYTES && lines.length > 0) {
      parts.push(lines.join('\n'));
      lines = [];
      bytes = 0;
    }
    lines.push(line);
    bytes += size;
  });
  if (lines.length > 0) parts.push(lines.join('\n'));
  return parts;
}

/**
 * The events of one NOTIFY payload (`<batch>\n<lines>`, as `encodeEvents` made and the publishing
 * statement numbered them). A payload that is not one is ignored.
 *
 * @example
 * ```ts
 * decodeEvents('7\n[0,"enqueued","q","j","j.0","r",null,1]')[0]!.seq; // 7000000
 * ```
 */
export function decodeEvents(payload: string): JobEvent[] {
  const newline = payload.indexOf('\n');
  const batch = Number(payload.slice(0, newline));
  if (newline < 0 || !Number.isSafeInteger(batch)) return [];
  const events: JobEvent[] = [];
  for (const line of payload.slice(newline + 1).split('\n')) {
    let fields: EventLine;
    try {
      fields = JSON.parse(line) as EventLine;
    } catch {
      continue;
    }
    if (!Array.isArray(fields) || fields.length < 8) continue;
    const [index, type, queue, jobId, deliveryId, route, workerId, at] = fields;
    events.push({ seq: batch * PER_BATCH + index, type, queue, jobId, deliveryId, route, workerId, at, ...(fields.length > 8 && { data: fields[8] }) });
  }
  return events;
}
