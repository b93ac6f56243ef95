import type { CallRecord, CallRecordQuery } from '../call-records.js';
import type { JobEventListener, JobEventType, LogLine } from '../contract.js';
import type { ThroughputBucket } from '../throughput.js';

/**
 * Events and metrics: the lifecycle event feed, captured logs, per-minute throughput and call records.
 * Event delivery is best effort; callers re-read state on a timer as well.
 *
 * @example
 * ```ts
 * const unsubscribe = await backend.subscribe('demo', (event) => console.log(event.type), ['succeeded', 'failed']);
 * ```
 */
export interface EventStorage {
  /**
   * Calls `listener` with each lifecycle event of the queue recorded after this call, in order,
   * limited to `types` when given (a worker needs only wake-ups; a waiter only endings).
   * Events also serve as wake-ups for idle workers. Delivery is best effort: a subscriber that
   * loses its connection may miss events, so callers re-read state on a timer as well.
   * Resolves to an unsubscribe function.
   */
  subscribe(queue: string, listener: JobEventListener, types?: readonly JobEventType[]): Promise<() => Promise<void>>;

  /**
   * Appends captured output to the logs of the deliveries the lines name (any of the queue's, in one
   * call). A store that writes in several transactions and fails after some committed says how many
   * lines, from the first, it stored in the error's `context.linesStored`, so none is written twice.
   */
  appendLogs(queue: string, lines: LogLine[]): Promise<void>;

  /** A job's log lines, in order. */
  getLogs(queue: string, jobId: string): Promise<LogLine[]>;

  /** Completed and failed counts per route and minute since `since` (the backend keeps 24 hours). */
  throughput(queue: string, since: number): Promise<ThroughputBucket[]>;

  /** Stores a record of a wrapped call (`asEvent`). */
  appendCallRecord(queue: string, record: CallRecord): Promise<void>;

  /** Call records, newest first. */
  listCallRecords(queue: string, query: CallRecordQuery): Promise<CallRecord[]>;
}
