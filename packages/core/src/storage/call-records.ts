import type { SerializedError } from '../errors.js';

/** One call of a function wrapped by `asEvent`: what msched stored for each event. */
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

/** What {@link StorageBackend.listCallRecords} filters on. */
export interface CallRecordQuery {
  name?: string;
  limit: number;
}
