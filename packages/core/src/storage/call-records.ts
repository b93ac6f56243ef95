import type { SerializedError } from '../errors.js';

/**
 * One call of a function wrapped by `asEvent`, as stored for each call.
 *
 * @example
 * ```ts
 * const record: CallRecord = { id: randomUUID(), name: 'syncInventory', at: Date.now(), durationMs: 42, pid: process.pid,
 *   hostname: hostname(), value: { synced: 3 }, error: null, lines: [{ stream: 'stdout', line: 'synced 3' }] };
 * await backend.appendCallRecord('demo', record);
 * ```
 */
export interface CallRecord {
  id: string;
  /** The wrapped function's name. */
  name: string;
  /** When the call started, epoch ms. */
  at: number;
  durationMs: number;
  pid: number;
  hostname: string;
  /** What the call returned, as JSON; null when it threw. */
  value: unknown;
  error: SerializedError | null;
  /** The stdout and stderr lines it printed, when captured. */
  lines: { stream: 'stdout' | 'stderr'; line: string }[];
}

/**
 * What {@link StorageBackend.listCallRecords} filters on.
 *
 * @example
 * ```ts
 * const query: CallRecordQuery = { name: 'syncInventory', limit: 20 }; // without name: every function's calls
 * const latest = await backend.listCallRecords('demo', query); // newest first
 * ```
 */
export interface CallRecordQuery {
  name?: string;
  limit: number;
}
